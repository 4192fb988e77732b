// The labels and annotations Yunjian itself sets and reads, one definition
// each: on objects in our store (Workloads, Secrets, Clusters) and on the
// objects drivers write into member clusters alike.
export const CLOUD_LABEL = 'yunjian.io/cloud';
export const SITE_LABEL = 'yunjian.io/site';
export const CLUSTER_LABEL = 'yunjian.io/cluster';
export const NAMESPACE_LABEL = 'yunjian.io/namespace';
export const APP_LABEL = 'yunjian.io/app';
export const COMPONENT_LABEL = 'yunjian.io/component';

/** Set (to any new value, e.g. a timestamp) to ask for a fresh placement: `yunjian rebalance app`. */
export const REBALANCE_ANNOTATION = 'yunjian.io/rebalance';

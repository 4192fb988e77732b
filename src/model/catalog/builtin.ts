// The built-in catalog: loaded as CatalogItems at server start (cmd/server.ts),
// covering the sixteen categories. Nine items run for real on agent members
// from Debian's binaries (PostgreSQL, MariaDB, Redis, memcached, RabbitMQ,
// NATS, Mosquitto, nginx, Prometheus); every item has a Kubernetes form and
// deploys on the twin from it.
//
// Process forms run under `sh -c`: state lives in
// `{{ parameters.dataDir }}/NAMESPACE.INSTANCE/HOST-PORT` (the replica's own
// port, which the agent keeps across its restarts, so a restarted replica
// finds its data) unless the item says otherwise (Redis keeps one directory
// per member, so a rolling upgrade's new replica starts from the old one's
// snapshot). Version-specific settings reach the process through env only
// (`{{ values.* }}` in env), so a per-cluster pin is an override (render.ts).
//
// Written in builtin/: items.ts (how an item is written), processes.ts (the
// items with an agent process form), images.ts (the image-only ones).
import type { CatalogItem } from '../schema/catalog.ts';
import { IMAGE_ITEMS } from './builtin/images.ts';
import {
  grafana,
  mariadb,
  memcached,
  mosquitto,
  nats,
  nginx,
  postgresql,
  prometheus,
  rabbitmq,
  redis,
} from './builtin/processes.ts';

/** Every built-in item, in catalog order. */
export const BUILTIN_CATALOG: readonly CatalogItem[] = [
  postgresql,
  mariadb,
  redis,
  memcached,
  rabbitmq,
  nats,
  mosquitto,
  nginx,
  prometheus,
  grafana,
  ...IMAGE_ITEMS,
];

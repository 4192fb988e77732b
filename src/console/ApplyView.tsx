import { YamlEditor } from './YamlEditor.tsx';

const TEMPLATE = `apiVersion: yunjian.io/v1alpha1
kind: Application
metadata:
  name: hello
  namespace: default
spec:
  components:
    - name: web
      image: registry.example.com/hello:1.0
      replicas: 3
      resources: { cpu: 250m, memory: 256Mi }
      ports: [{ name: http, port: 8080 }]
  placement:
    spread: [{ by: cloud, min: 2 }]
`;

export function ApplyView() {
  return (
    <section>
      <h1 tabIndex={-1}>Apply YAML</h1>
      <p>
        One or more documents separated by <code>---</code>, as <code>yunjian apply -f</code> takes
        them. Validate first to see every problem with its field path; nothing is stored until the
        whole set is valid.
      </p>
      <YamlEditor initial={TEMPLATE} label="Manifests" />
    </section>
  );
}

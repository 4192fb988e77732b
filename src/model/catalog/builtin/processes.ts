// The built-in items that run for real on agent members from Debian's
// binaries (and as StatefulSets or Deployments on Kubernetes).
import { DATA_DIR, REPLICA_DIR, STATELESS_PLANS, TCP_CHECK, item, params, sh } from './items.ts';

export const postgresql = item({
  name: 'postgresql',
  displayName: 'PostgreSQL',
  category: 'databases',
  description:
    'The relational database. On agents: Debian PostgreSQL 15, initdb in the replica directory, trust authentication on the member address.',
  versions: [
    {
      version: '15.18.0',
      values: { bin: '/usr/lib/postgresql/15/bin', tag: '15.18' },
      parameters: params({
        dataDir: DATA_DIR,
        maxConnections: {
          type: 'integer',
          description: 'max_connections.',
          minimum: 10,
          maximum: 10000,
          default: 100,
        },
        database: {
          type: 'string',
          description: 'The database created for bindings.',
          pattern: '^[a-z_][a-z0-9_]{0,62}$',
          default: 'app',
          'x-expected': 'a lower-case SQL identifier',
        },
      }),
    },
  ],
  components: [
    {
      name: 'postgres',
      ports: [{ name: 'postgres', port: 5432 }],
      healthCheck: TCP_CHECK,
      env: { PG_BIN: '{{ values.bin }}', PG_DATABASE: '{{ parameters.database }}' },
      agent: sh(
        `${REPLICA_DIR}; AS=""; if [ "$(id -u)" = 0 ]; then chown postgres "$D"; AS="setpriv --reuid=postgres --regid=postgres --clear-groups"; fi; ` +
          `if [ ! -f "$D/PG_VERSION" ]; then $AS "$PG_BIN/initdb" -D "$D" -U postgres --auth=trust >/dev/null && printf "CREATE DATABASE %s;\\n" "$PG_DATABASE" | $AS "$PG_BIN/postgres" --single -D "$D" postgres >/dev/null; fi; ` +
          `exec $AS "$PG_BIN/postgres" -D "$D" -h "\${HOST}" -p "\${PORT}" -k "$D" -c max_connections={{ parameters.maxConnections }}`,
      ),
      kubernetes: { image: 'postgres:{{ values.tag }}', workload: 'StatefulSet' },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.postgres }}',
    USER: 'postgres',
    DATABASE: '{{ parameters.database }}',
    URL: 'postgresql://postgres@{{ host }}:{{ port.postgres }}/{{ parameters.database }}',
  },
  lifecycle: {
    upgrade: 'dump-and-restore',
    backup: 'dump-and-restore',
    migration: 'dump-and-restore',
    replicates: false,
  },
});

export const mariadb = item({
  name: 'mariadb',
  displayName: 'MariaDB',
  category: 'databases',
  description:
    'The MySQL-compatible database. On agents: Debian mariadbd with mariadb-install-db in the replica directory.',
  versions: [
    {
      version: '10.11.19',
      values: { tag: '10.11' },
      parameters: params({
        dataDir: DATA_DIR,
        maxConnections: {
          type: 'integer',
          description: 'max_connections.',
          minimum: 10,
          maximum: 100000,
          default: 151,
        },
      }),
    },
  ],
  components: [
    {
      name: 'mariadb',
      ports: [{ name: 'mysql', port: 3306 }],
      healthCheck: TCP_CHECK,
      agent: sh(
        `${REPLICA_DIR}; U=$(id -un); [ -d "$D/mysql" ] || mariadb-install-db --no-defaults --user="$U" --datadir="$D" --auth-root-authentication-method=normal >/dev/null; ` +
          `exec /usr/sbin/mariadbd --no-defaults --user="$U" --datadir="$D" --socket="$D/mysqld.sock" --pid-file="$D/mysqld.pid" --bind-address="\${HOST}" --port="\${PORT}" --max-connections={{ parameters.maxConnections }}`,
      ),
      kubernetes: { image: 'mariadb:{{ values.tag }}', workload: 'StatefulSet' },
    },
  ],
  outputs: { HOST: '{{ host }}', PORT: '{{ port.mysql }}', USER: 'root' },
  lifecycle: {
    upgrade: 'dump-and-restore',
    backup: 'dump-and-restore',
    migration: 'dump-and-restore',
    replicates: false,
  },
});

const redisParameters = params({
  dataDir: DATA_DIR,
  maxMemory: {
    type: 'string',
    description: 'maxmemory (Redis units).',
    pattern: '^[0-9]+(kb|mb|gb)?$',
    default: '64mb',
    'x-expected': 'a size such as 64mb or 1gb',
  },
  appendOnly: { type: 'boolean', description: 'appendonly: log every write.', default: false },
});

/**
 * Debian ships one Redis (7.0.15). The catalog's 7.0.15 and 7.2.0 both run
 * that binary; 7.2.0 differs in configuration only (a faster server tick and
 * active defragmentation off). They model an upgrade's mechanics, not Redis'.
 */
export const redis = item({
  name: 'redis',
  displayName: 'Redis',
  category: 'databases',
  description:
    "The in-memory key-value store. On agents: Debian redis-server; a rolling upgrade starts the new replica from the running one's snapshot (SAVE, then load).",
  versions: [
    {
      version: '7.0.15',
      values: { tag: '7.0.15', config: '--hz 10' },
      parameters: redisParameters,
    },
    {
      version: '7.2.0',
      values: { tag: '7.2.0', config: '--hz 20 --activedefrag no' },
      parameters: redisParameters,
    },
  ],
  components: [
    {
      name: 'redis',
      ports: [{ name: 'redis', port: 6379 }],
      healthCheck: TCP_CHECK,
      env: { REDIS_VERSION_CONFIG: '{{ values.config }}' },
      agent: sh(
        'D="{{ parameters.dataDir }}/{{ instance.namespace }}.{{ instance.name }}/${HOST}"; mkdir -p "$D"; ' +
          // A replica replacing a running one asks it to persist first, so it starts from its data.
          'redis-cli -h "${HOST}" -p {{ ports.redis }} -a "{{ credentials.password }}" --no-auth-warning SAVE >/dev/null 2>&1; ' +
          'exec /usr/bin/redis-server --bind "${HOST}" --port "${PORT}" --dir "$D" --dbfilename dump.rdb --save "1 1" ' +
          '--requirepass "{{ credentials.password }}" --maxmemory {{ parameters.maxMemory }} ' +
          '--appendonly $([ "{{ parameters.appendOnly }}" = true ] && echo yes || echo no) --protected-mode no $REDIS_VERSION_CONFIG',
      ),
      kubernetes: {
        image: 'redis:{{ values.tag }}',
        workload: 'StatefulSet',
        args: [
          '--requirepass',
          '{{ credentials.password }}',
          '--maxmemory',
          '{{ parameters.maxMemory }}',
        ],
      },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.redis }}',
    PASSWORD: '{{ credentials.password }}',
    URL: 'redis://:{{ credentials.password }}@{{ host }}:{{ port.redis }}',
  },
  lifecycle: {
    upgrade: 'replicate-then-promote',
    backup: 'snapshot',
    migration: 'replicate-then-promote',
    replicates: false,
  },
});

export const memcached = item({
  name: 'memcached',
  displayName: 'memcached',
  category: 'middleware',
  description: 'The distributed memory cache. On agents: Debian memcached.',
  versions: [
    {
      version: '1.6.18',
      values: { tag: '1.6.18' },
      parameters: params({
        memoryMegabytes: {
          type: 'integer',
          description: 'Cache size in MiB (-m).',
          minimum: 8,
          maximum: 65536,
          default: 64,
        },
      }),
    },
  ],
  plans: STATELESS_PLANS,
  components: [
    {
      name: 'memcached',
      ports: [{ name: 'memcache', port: 11211 }],
      healthCheck: TCP_CHECK,
      agent: {
        command: ['/usr/bin/memcached'],
        args: [
          '-l',
          '${HOST}',
          '-p',
          '${PORT}',
          '-U',
          '0',
          '-u',
          'nobody',
          '-m',
          '{{ parameters.memoryMegabytes }}',
        ],
      },
      kubernetes: { image: 'memcached:{{ values.tag }}', workload: 'Deployment' },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.memcache }}',
    SERVERS: '{{ host }}:{{ port.memcache }}',
  },
});

export const rabbitmq = item({
  name: 'rabbitmq',
  displayName: 'RabbitMQ',
  category: 'middleware',
  description:
    'The AMQP message broker. On agents: Debian rabbitmq-server, one Erlang node per replica (node name from its port).',
  versions: [
    {
      version: '3.10.8',
      values: { tag: '3.10' },
      parameters: params({ dataDir: DATA_DIR }),
    },
  ],
  components: [
    {
      name: 'rabbitmq',
      ports: [
        { name: 'amqp', port: 5672 },
        { name: 'dist', port: 25672 },
      ],
      healthCheck: { tcp: {}, intervalSeconds: 2, failureThreshold: 30 },
      agent: sh(
        `${REPLICA_DIR}; mkdir -p "$D/mnesia" "$D/log"; AS=""; if [ "$(id -u)" = 0 ]; then chown -R rabbitmq "$D"; AS="setpriv --reuid=rabbitmq --regid=rabbitmq --clear-groups"; fi; export ERL_CRASH_DUMP="$D/erl_crash.dump" HOME="$D" RABBITMQ_NODENAME="yj\${PORT}@localhost" RABBITMQ_NODE_IP_ADDRESS="\${HOST}" RABBITMQ_NODE_PORT="\${PORT}" RABBITMQ_DIST_PORT="\${PORT_DIST}" RABBITMQ_MNESIA_BASE="$D/mnesia" RABBITMQ_LOG_BASE="$D/log" RABBITMQ_ENABLED_PLUGINS_FILE="$D/plugins" RABBITMQ_CONFIG_FILE="$D/rabbitmq"; exec $AS /usr/lib/rabbitmq/bin/rabbitmq-server`,
      ),
      kubernetes: { image: 'rabbitmq:{{ values.tag }}', workload: 'StatefulSet' },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.amqp }}',
    URL: 'amqp://guest:guest@{{ host }}:{{ port.amqp }}/',
  },
  lifecycle: {
    upgrade: 'rolling',
    backup: 'dump-and-restore',
    migration: 'dump-and-restore',
    replicates: false,
  },
});

export const nats = item({
  name: 'nats',
  displayName: 'NATS',
  category: 'microservices',
  description:
    'The messaging system for services (publish/subscribe, request/reply, JetStream). On agents: Debian nats-server.',
  versions: [
    {
      version: '2.9.10',
      values: { tag: '2.9.10' },
      parameters: params({
        dataDir: DATA_DIR,
        maxPayload: {
          type: 'integer',
          description: 'Largest message in bytes.',
          minimum: 1024,
          maximum: 67108864,
          default: 1048576,
        },
      }),
    },
  ],
  plans: STATELESS_PLANS,
  components: [
    {
      name: 'nats',
      ports: [{ name: 'client', port: 4222 }],
      healthCheck: TCP_CHECK,
      agent: sh(
        `${REPLICA_DIR}; printf "max_payload: %s\\n" "{{ parameters.maxPayload }}" > "$D/nats.conf"; exec /usr/sbin/nats-server -c "$D/nats.conf" -a "\${HOST}" -p "\${PORT}" -js -sd "$D/jetstream"`,
      ),
      kubernetes: { image: 'nats:{{ values.tag }}', workload: 'Deployment', args: ['-js'] },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.client }}',
    URL: 'nats://{{ host }}:{{ port.client }}',
  },
});

export const mosquitto = item({
  name: 'mosquitto',
  displayName: 'Eclipse Mosquitto',
  category: 'iot',
  description:
    'The MQTT broker for devices. On agents: Debian mosquitto with a generated listener config.',
  versions: [
    {
      version: '2.0.11',
      values: { tag: '2.0.11' },
      parameters: params({
        dataDir: DATA_DIR,
        allowAnonymous: {
          type: 'boolean',
          description: 'Accept clients without credentials.',
          default: true,
        },
      }),
    },
  ],
  plans: STATELESS_PLANS,
  components: [
    {
      name: 'mosquitto',
      ports: [{ name: 'mqtt', port: 1883 }],
      healthCheck: TCP_CHECK,
      agent: sh(
        `${REPLICA_DIR}; printf "listener %s %s\\nallow_anonymous %s\\n" "\${PORT}" "\${HOST}" "{{ parameters.allowAnonymous }}" > "$D/mosquitto.conf"; exec /usr/sbin/mosquitto -c "$D/mosquitto.conf"`,
      ),
      kubernetes: { image: 'eclipse-mosquitto:{{ values.tag }}', workload: 'Deployment' },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.mqtt }}',
    URL: 'mqtt://{{ host }}:{{ port.mqtt }}',
  },
});

export const nginx = item({
  name: 'nginx',
  displayName: 'nginx',
  category: 'networking',
  description:
    'The web server and reverse proxy. On agents: Debian nginx with a generated config answering /healthz.',
  versions: [
    {
      version: '1.22.1',
      values: { tag: '1.22' },
      parameters: params({
        dataDir: DATA_DIR,
        workerConnections: {
          type: 'integer',
          description: 'worker_connections.',
          minimum: 16,
          maximum: 65536,
          default: 512,
        },
      }),
    },
  ],
  plans: STATELESS_PLANS,
  components: [
    {
      name: 'nginx',
      ports: [{ name: 'http', port: 80 }],
      healthCheck: { http: { path: '/healthz' }, intervalSeconds: 1, failureThreshold: 3 },
      agent: sh(
        `${REPLICA_DIR}; printf "daemon off; pid %s/nginx.pid; error_log stderr; events { worker_connections {{ parameters.workerConnections }}; } http { access_log off; client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s; server { listen %s:%s; location / { return 200 \\"ok\\\\n\\"; } } }\\n" "$D" "$D" "$D" "$D" "$D" "$D" "\${HOST}" "\${PORT}" > "$D/nginx.conf"; exec /usr/sbin/nginx -p "$D" -c "$D/nginx.conf" -e stderr`,
      ),
      kubernetes: { image: 'nginx:{{ values.tag }}', workload: 'Deployment' },
    },
  ],
  outputs: {
    HOST: '{{ host }}',
    PORT: '{{ port.http }}',
    URL: 'http://{{ host }}:{{ port.http }}',
  },
});

export const prometheus = item({
  name: 'prometheus',
  displayName: 'Prometheus',
  category: 'monitoring',
  description: 'The metrics database. On agents: Debian prometheus scraping itself.',
  versions: [
    {
      version: '2.42.0',
      values: { tag: 'v2.42.0' },
      parameters: params({
        dataDir: DATA_DIR,
        scrapeIntervalSeconds: {
          type: 'integer',
          description: 'global scrape_interval, seconds.',
          minimum: 1,
          maximum: 3600,
          default: 15,
        },
        retention: {
          type: 'string',
          description: 'storage.tsdb.retention.time.',
          pattern: '^[0-9]+(h|d|w|y)$',
          default: '15d',
          'x-expected': 'a duration such as 12h, 15d or 1w',
        },
      }),
    },
  ],
  components: [
    {
      name: 'prometheus',
      ports: [{ name: 'http', port: 9090 }],
      healthCheck: { http: { path: '/-/ready' }, intervalSeconds: 1, failureThreshold: 5 },
      agent: sh(
        `${REPLICA_DIR}; printf "global:\\n  scrape_interval: %ss\\nscrape_configs:\\n  - job_name: self\\n    static_configs: [{targets: ['%s:%s']}]\\n" "{{ parameters.scrapeIntervalSeconds }}" "\${HOST}" "\${PORT}" > "$D/prometheus.yml"; exec /usr/bin/prometheus --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/data" --storage.tsdb.retention.time={{ parameters.retention }} --web.listen-address="\${HOST}:\${PORT}"`,
      ),
      kubernetes: { image: 'prom/prometheus:{{ values.tag }}', workload: 'StatefulSet' },
    },
  ],
  outputs: { URL: 'http://{{ host }}:{{ port.http }}' },
  lifecycle: { upgrade: 'rolling', backup: 'snapshot', migration: 'none', replicates: false },
});

export const grafana = item({
  name: 'grafana',
  displayName: 'Grafana',
  category: 'monitoring',
  description: 'Dashboards over Prometheus.',
  versions: [
    {
      version: '11.2.0',
      values: { tag: '11.2.0' },
      parameters: params({
        adminUser: {
          type: 'string',
          description: 'The first administrator.',
          pattern: '^[a-z][a-z0-9]{0,31}$',
          default: 'admin',
          'x-expected': 'a lower-case user name',
        },
      }),
    },
  ],
  dependencies: [{ item: 'prometheus', versions: '^2.40.0' }],
  plans: STATELESS_PLANS,
  components: [
    {
      name: 'grafana',
      ports: [{ name: 'http', port: 3000 }],
      env: { GF_SECURITY_ADMIN_USER: '{{ parameters.adminUser }}' },
      kubernetes: { image: 'grafana/grafana:{{ values.tag }}', workload: 'Deployment' },
    },
  ],
  outputs: { URL: 'http://{{ host }}:{{ port.http }}' },
});

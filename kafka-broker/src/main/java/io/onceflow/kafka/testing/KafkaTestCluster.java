package io.onceflow.kafka.testing;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single node Kafka cluster for a test class, as a JUnit 5 extension:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final KafkaTestCluster kafka = new KafkaTestCluster();
 * ... kafka.bootstrapServers() ...
 * }</pre>
 *
 * Started before the class's first test, stopped after its last (nested classes share it). Outside
 * JUnit, call {@link #start()} and {@link #stop()} yourself. Where the broker comes from, in order:
 * <ol>
 *   <li>{@code -Donceflow.kafka.bootstrap=host:port}: an already running broker, used as it is (not
 *       started nor stopped here; broker properties set here are not applied to it);</li>
 *   <li>a reachable Docker engine: Testcontainers' {@code org.testcontainers.kafka.KafkaContainer} with
 *       image {@value #KAFKA_IMAGE};</li>
 *   <li>otherwise {@link KafkaBrokerLauncher}: the same Kafka version from its Maven artifacts, in a child
 *       JVM.</li>
 * </ol>
 * {@code -Donceflow.kafka.backend=launcher} (or {@code docker}) forces one of the last two. The choice
 * is logged in one line at INFO.
 *
 * <p>The launcher backend needs nothing beyond this module ({@code onceflow-kafka-broker}, with test
 * scope); the Docker one needs {@code org.testcontainers:testcontainers-kafka} on the test classpath
 * too, and JUnit Jupiter's API, which a test using the extension has.
 */
public final class KafkaTestCluster implements BeforeAllCallback, AfterAllCallback {
    public static final String BOOTSTRAP_PROPERTY = "onceflow.kafka.bootstrap";
    public static final String BACKEND_PROPERTY = "onceflow.kafka.backend";
    public static final String KAFKA_IMAGE = "apache/kafka:4.3.1";

    /** Where the broker of a started cluster runs. */
    public enum Backend {
        /** {@code -Donceflow.kafka.bootstrap}: started elsewhere. */
        EXTERNAL,
        /** Testcontainers' Kafka container. */
        DOCKER,
        /** {@link KafkaBrokerLauncher}'s child JVM. */
        LAUNCHER
    }

    private static final Logger LOG = LoggerFactory.getLogger(KafkaTestCluster.class);

    private final Map<String, String> brokerProperties = new LinkedHashMap<>();
    private Duration startupTimeout = KafkaBrokerLauncher.DEFAULT_STARTUP_TIMEOUT;
    private int users;
    private Backend backend;
    private String bootstrapServers;
    private RunningKafkaBroker launched;
    private AutoCloseable container;

    public KafkaTestCluster() {
    }

    /** A broker property for the launcher's broker or, as a {@code KAFKA_...} variable, the container's. */
    public KafkaTestCluster withBrokerProperty(String name, String value) {
        brokerProperties.put(name, value);
        return this;
    }

    public KafkaTestCluster withStartupTimeout(Duration timeout) {
        this.startupTimeout = timeout;
        return this;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        stop();
    }

    /** Starts the cluster, or counts one more user of the started one. */
    public synchronized void start() {
        if (users++ > 0) {
            return;
        }
        try {
            String external = System.getProperty(BOOTSTRAP_PROPERTY, "").trim();
            String forced = System.getProperty(BACKEND_PROPERTY, "").trim().toLowerCase(Locale.ROOT);
            long begin = System.nanoTime();
            if (!external.isEmpty()) {
                backend = Backend.EXTERNAL;
                bootstrapServers = external;
                LOG.info("Kafka for tests: external broker {} (from -D{})", external, BOOTSTRAP_PROPERTY);
                return;
            }
            boolean docker = switch (forced) {
                case "docker" -> true;
                case "launcher" -> false;
                case "" -> DockerCheck.dockerAvailable();
                default -> throw new IllegalArgumentException("-D" + BACKEND_PROPERTY + " must be docker or launcher: "
                        + forced);
            };
            if (docker) {
                ContainerBackend c = new ContainerBackend(brokerProperties, startupTimeout);
                container = c;
                bootstrapServers = c.bootstrapServers();
                backend = Backend.DOCKER;
                LOG.info("Kafka for tests: Testcontainers {} at {} (Docker {}), ready in {} ms", KAFKA_IMAGE,
                        bootstrapServers, forced.isEmpty() ? "is reachable" : "forced by -D" + BACKEND_PROPERTY,
                        (System.nanoTime() - begin) / 1_000_000);
            } else {
                launched = new KafkaBrokerLauncher().brokerProperties(brokerProperties)
                        .startupTimeout(startupTimeout).start();
                bootstrapServers = launched.bootstrapServers();
                backend = Backend.LAUNCHER;
                LOG.info("Kafka for tests: KafkaBrokerLauncher child JVM (pid {}) at {} ({}), ready in {} ms, log {}",
                        launched.pid(), bootstrapServers, forced.isEmpty() ? "no Docker engine reachable, so an ERROR"
                                + " 'Could not find a valid Docker environment' from Testcontainers is expected"
                                : "forced by -D" + BACKEND_PROPERTY, launched.startupTime().toMillis(),
                        launched.logFile());
            }
        } catch (RuntimeException | Error e) {
            users = 0;
            throw e;
        }
    }

    /** Stops the cluster when its last user stops it. */
    public synchronized void stop() {
        if (users == 0 || --users > 0) {
            return;
        }
        try {
            if (launched != null) {
                launched.stop();
            }
            if (container != null) {
                container.close();
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot stop the Kafka test cluster", e);
        } finally {
            launched = null;
            container = null;
            bootstrapServers = null;
            backend = null;
        }
    }

    /** {@code host:port} of the started cluster. */
    public synchronized String bootstrapServers() {
        if (bootstrapServers == null) {
            throw new IllegalStateException("the Kafka test cluster is not started: register it with"
                    + " @RegisterExtension on a static field, or call start()");
        }
        return bootstrapServers;
    }

    public synchronized Backend backend() {
        return backend;
    }

    /** The launcher's broker when {@link #backend()} is {@link Backend#LAUNCHER}, else null. */
    public synchronized RunningKafkaBroker launchedBroker() {
        return launched;
    }

    /** {@code bootstrap.servers} set, for any client. */
    public Properties clientProperties() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return p;
    }

    /** A new Admin client on this cluster; close it. */
    public Admin createAdmin() {
        return Admin.create(clientProperties());
    }

    /**
     * Creates a topic named {@code prefix} and a random suffix, with {@code partitions} partitions each writable
     * ({@link io.onceflow.kafka.broker.Topics#create}); returns its name.
     */
    public String createTopic(String prefix, int partitions) throws Exception {
        String name = prefix + "-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = createAdmin()) {
            io.onceflow.kafka.broker.Topics.create(admin, partitions, name);
        }
        return name;
    }

    /** Isolated so that this class loads without Testcontainers on the classpath. */
    private static final class DockerCheck {
        static boolean dockerAvailable() {
            try {
                return org.testcontainers.DockerClientFactory.instance().isDockerAvailable();
            } catch (Throwable e) { // NoClassDefFoundError without Testcontainers, anything from the probe
                LOG.debug("no Docker engine for Testcontainers: {}", e.toString());
                return false;
            }
        }
    }

    private static final class ContainerBackend implements AutoCloseable {
        private final org.testcontainers.kafka.KafkaContainer container;

        ContainerBackend(Map<String, String> brokerProperties, Duration startupTimeout) {
            container = new org.testcontainers.kafka.KafkaContainer(KAFKA_IMAGE)
                    .withStartupTimeout(startupTimeout.plusSeconds(60)); // plus the image pull
            // the apache/kafka image maps KAFKA_A_B__C___D to a.b_c-d
            brokerProperties.forEach((k, v) -> container.withEnv("KAFKA_" + k.replace("_", "__")
                    .replace("-", "___").replace(".", "_").toUpperCase(Locale.ROOT), v));
            container.start();
        }

        String bootstrapServers() {
            return container.getBootstrapServers();
        }

        @Override
        public void close() {
            container.stop();
        }
    }
}

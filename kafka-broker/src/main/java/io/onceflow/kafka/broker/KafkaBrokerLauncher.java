package io.onceflow.kafka.broker;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.security.CodeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a real Apache Kafka broker (the {@code org.apache.kafka:kafka_2.13} artifact, no Docker and
 * no Kafka installation) in a child JVM, for tests and local runs.
 *
 * <h2>What it starts</h2>
 * A single node KRaft cluster: one JVM with {@code process.roles=broker,controller} and
 * {@code node.id=1}, a static single voter quorum ({@code controller.quorum.voters=1@127.0.0.1:C}),
 * a {@code PLAINTEXT} listener on {@code 127.0.0.1:port} for clients and a {@code CONTROLLER}
 * listener on another free loopback port. Nothing listens on other interfaces.
 * The child JVM runs {@link BrokerMain}, which formats the storage like
 * {@code kafka-storage.sh format -t CLUSTER_ID -c server.properties} when it is not yet formatted,
 * then runs {@code kafka.Kafka server.properties}.
 *
 * <h2>Defaults</h2>
 * <ul>
 *   <li>{@link #port(int) port} 0: a free port is picked, preferably the one of the previous run on the
 *       same data directory (so that a restarted broker keeps its bootstrap address);</li>
 *   <li>{@link #dataDirectory(Path) data directory} {@code null}: a fresh temporary directory,
 *       deleted when the broker stops. An explicit directory is kept: starting again on it restarts
 *       the same cluster (same cluster id, topics and records), since the storage is formatted only
 *       when {@code kraft-logs/meta.properties} is absent;</li>
 *   <li>{@link #startupTimeout(Duration) startup timeout} 60 s;</li>
 *   <li>{@link #maxHeap(String) child JVM heap} {@code -Xmx512m};</li>
 *   <li>broker properties, each replaceable with {@link #brokerProperty(String, String)}: replication
 *       factor 1 and min ISR 1 for the internal topics ({@code __consumer_offsets},
 *       {@code __transaction_state}, {@code __share_group_state}), {@code offsets.topic.num.partitions=1},
 *       {@code group.initial.rebalance.delay.ms=0} (as Testcontainers' Kafka container does). Everything
 *       else is Kafka's default: topic auto-creation on, transactions v2, {@code
 *       transaction.max.timeout.ms} 900000 (15 min), {@code num.partitions=1}.</li>
 * </ul>
 * The listener, quorum, node id and log directory properties are managed here and cannot be overridden.
 *
 * <h2>Files and logs</h2>
 * In the data directory: {@code server.properties} (written anew at each start), {@code cluster.id},
 * {@code kraft-logs/} (Kafka's {@code log.dirs}: metadata log and topic data), {@code log4j2.properties},
 * {@code broker-jvm.args} (the child's full command line as a java argument file, so that
 * {@code java @broker-jvm.args} runs the same broker by hand) and {@code broker.log}: the broker's
 * standard output and error and its log4j2 log at INFO, appended across restarts (each start begins with
 * a {@code =====} line). Nothing goes to the parent's console.
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} returns once the port accepts connections and an Admin {@code describeCluster}
 * lists the broker, so topics can be created at once; if the child exits or the timeout passes first it
 * throws a {@link KafkaBrokerException} whose message ends with the last lines of {@code broker.log}.
 * {@link RunningKafkaBroker#stop()} sends SIGTERM (a controlled shutdown), waits up to 30 s, then kills.
 * A JVM shutdown hook stops the broker if the parent JVM exits first, and the child ends itself (orderly)
 * when its parent is gone, even after a {@code kill -9} of the parent: its standard input is a pipe from
 * the parent, which reaches end of file then, and it also watches the parent's process id.
 *
 * <h2>Classpath</h2>
 * The child runs {@code java.home/bin/java} with the parent's classpath: {@code java.class.path}, with
 * the {@code Class-Path} of manifest-only jars (such as Maven Surefire's booter jar) expanded, plus the
 * URLs of {@link URLClassLoader}s and the code sources of the broker's main classes. It therefore needs
 * {@code org.apache.kafka:kafka_2.13} and {@code org.apache.logging.log4j:log4j-slf4j2-impl} on the
 * caller's classpath: dependencies of this module ({@code onceflow-kafka-broker}), so a user who adds
 * it has them.
 *
 * <pre>{@code
 * try (RunningKafkaBroker broker = new KafkaBrokerLauncher().start()) {
 *     String bootstrap = broker.bootstrapServers(); // "127.0.0.1:PORT"
 * }
 * }</pre>
 */
public final class KafkaBrokerLauncher {
    public static final int NODE_ID = 1;
    public static final Duration DEFAULT_STARTUP_TIMEOUT = Duration.ofSeconds(60);
    public static final String DEFAULT_MAX_HEAP = "512m";
    public static final String HOST = "127.0.0.1";

    static final String LOG_FILE = "broker.log";
    static final String LOG_DIRS = "kraft-logs";
    static final String CLUSTER_ID_FILE = "cluster.id";
    static final String SERVER_PROPERTIES = "server.properties";
    static final String LOG4J2_PROPERTIES = "log4j2.properties";
    static final String JVM_ARGS_FILE = "broker-jvm.args";
    static final int LOG_TAIL_LINES = 40;

    private static final Logger LOG = LoggerFactory.getLogger(KafkaBrokerLauncher.class);
    private static final String KAFKA_MAIN = "kafka.Kafka";
    private static final String LOG4J_SLF4J_PROVIDER = "org.apache.logging.slf4j.SLF4JServiceProvider";
    private static final Set<String> MANAGED_PROPERTIES = Set.of(
            "process.roles", "node.id", "listeners", "advertised.listeners", "listener.security.protocol.map",
            "controller.listener.names", "inter.broker.listener.name", "controller.quorum.voters",
            "controller.quorum.bootstrap.servers", "log.dirs", "log.dir", "metadata.log.dir");
    private static final int MAX_AUTO_PORT_ATTEMPTS = 3;

    private int port;
    private Path dataDirectory;
    private final Map<String, String> brokerProperties = new LinkedHashMap<>();
    private Duration startupTimeout = DEFAULT_STARTUP_TIMEOUT;
    private String maxHeap = DEFAULT_MAX_HEAP;
    private final List<String> jvmArguments = new ArrayList<>();

    public KafkaBrokerLauncher() {
    }

    /** The client ({@code PLAINTEXT}) port on 127.0.0.1; 0 (the default) picks a free one. */
    public KafkaBrokerLauncher port(int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0 (pick a free one) or 1-65535: " + port);
        }
        this.port = port;
        return this;
    }

    /**
     * Where the broker keeps its data and log; kept after stop, and reused (not formatted again) by a
     * later start. {@code null} (the default): a fresh temporary directory, deleted on stop.
     */
    public KafkaBrokerLauncher dataDirectory(Path dataDirectory) {
        this.dataDirectory = dataDirectory;
        return this;
    }

    /** A broker property added to (or replacing a default of) the generated server.properties. */
    public KafkaBrokerLauncher brokerProperty(String name, String value) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value of " + name);
        if (MANAGED_PROPERTIES.contains(name)) {
            throw new IllegalArgumentException("broker property " + name + " is managed by KafkaBrokerLauncher"
                    + " (single node KRaft on 127.0.0.1); it cannot be overridden. Managed: " + MANAGED_PROPERTIES);
        }
        brokerProperties.put(name, value);
        return this;
    }

    public KafkaBrokerLauncher brokerProperties(Map<String, String> properties) {
        properties.forEach(this::brokerProperty);
        return this;
    }

    /** How long {@link #start()} waits for the broker to be ready (default 60 s). */
    public KafkaBrokerLauncher startupTimeout(Duration startupTimeout) {
        if (startupTimeout.isNegative() || startupTimeout.isZero()) {
            throw new IllegalArgumentException("startup timeout must be positive: " + startupTimeout);
        }
        this.startupTimeout = startupTimeout;
        return this;
    }

    /** The child JVM's maximum heap, as after {@code -Xmx} (default {@code 512m}). */
    public KafkaBrokerLauncher maxHeap(String maxHeap) {
        if (!maxHeap.matches("\\d+[kKmMgG]?")) {
            throw new IllegalArgumentException("max heap must look like 512m or 1g: " + maxHeap);
        }
        this.maxHeap = maxHeap;
        return this;
    }

    /** An extra option for the child JVM, e.g. {@code -XX:+UseSerialGC}. */
    public KafkaBrokerLauncher jvmArgument(String argument) {
        jvmArguments.add(Objects.requireNonNull(argument, "argument"));
        return this;
    }

    /**
     * Starts the broker and waits until it serves clients.
     *
     * @throws KafkaBrokerException if the port is taken, the broker JVM exits, or it is not ready within
     *     the startup timeout; the message includes the last lines of the broker log
     */
    public RunningKafkaBroker start() {
        requireBrokerOnClasspath();
        if (port != 0) {
            requirePortFree(port);
        }
        boolean ownsDirectory = dataDirectory == null;
        Path dir;
        try {
            dir = ownsDirectory ? Files.createTempDirectory("onceflow-kafka-") : Files.createDirectories(dataDirectory);
        } catch (IOException e) {
            throw new KafkaBrokerException("cannot create the broker data directory "
                    + (dataDirectory == null ? "(temporary)" : dataDirectory) + ": " + e, e);
        }
        dir = dir.toAbsolutePath();
        try {
            for (int attempt = 1; ; attempt++) {
                try {
                    return startIn(dir, ownsDirectory);
                } catch (PortRaceException e) {
                    // a free port we picked was taken by someone else before the broker bound it
                    boolean pickedPortTaken = port == 0 || e.controllerPortOnly;
                    if (!pickedPortTaken || attempt >= MAX_AUTO_PORT_ATTEMPTS) {
                        throw e.failure;
                    }
                    LOG.warn("Kafka broker could not bind a port it picked (taken meanwhile); retrying with new ports");
                }
            }
        } catch (RuntimeException | Error e) {
            if (ownsDirectory) {
                RunningKafkaBroker.deleteRecursively(dir);
            }
            throw e;
        }
    }

    private RunningKafkaBroker startIn(Path dir, boolean ownsDirectory) throws PortRaceException {
        Instant begin = Instant.now();
        int brokerPort = port != 0 ? port : previousPortIfFree(dir).orElseGet(() -> freePort(-1));
        int controllerPort = freePort(brokerPort);
        Path logDirs = dir.resolve(LOG_DIRS);
        Path logFile = dir.resolve(LOG_FILE);
        boolean formatted = Files.exists(logDirs.resolve("meta.properties"));
        String clusterId = clusterId(dir, logDirs, formatted);

        Path serverProperties = dir.resolve(SERVER_PROPERTIES);
        Path log4j2 = dir.resolve(LOG4J2_PROPERTIES);
        Path argsFile = dir.resolve(JVM_ARGS_FILE);
        List<String> args = jvmCommand(serverProperties, log4j2, formatted ? null : clusterId);
        try {
            writeServerProperties(serverProperties, brokerPort, controllerPort, logDirs);
            Files.writeString(log4j2, LOG4J2_CONFIG, StandardCharsets.UTF_8);
            Files.write(argsFile, quoteForArgFile(args), StandardCharsets.UTF_8);
            Files.writeString(logFile, String.format("%n===== %s onceflow KafkaBrokerLauncher: starting broker on %s:%d"
                            + " (controller %d), cluster %s, %s; command: %s @%s%n", Instant.now(), HOST, brokerPort,
                            controllerPort, clusterId, formatted ? "storage already formatted" : "formatting storage",
                            javaBinary(), argsFile), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new KafkaBrokerException("cannot write the broker configuration into " + dir + ": " + e, e);
        }
        long logOffset = sizeOf(logFile);

        ProcessBuilder pb = new ProcessBuilder(javaBinary().toString(), "@" + argsFile)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        // stdin stays a pipe from this JVM: the child exits when it reaches end of file
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new KafkaBrokerException("cannot start the broker JVM " + javaBinary() + ": " + e, e);
        }
        RunningKafkaBroker broker = new RunningKafkaBroker(process, brokerPort, controllerPort, dir, logFile,
                clusterId, ownsDirectory);
        broker.registerShutdownHook();
        LOG.info("Kafka broker JVM pid {} starting on {}:{}, data directory {}, log {}", process.pid(), HOST,
                brokerPort, dir, logFile);
        String problem;
        try {
            problem = awaitReady(process, brokerPort, begin.plus(startupTimeout));
        } catch (RuntimeException | Error e) {
            broker.stopQuietly(Duration.ofSeconds(5), false);
            throw e;
        }
        if (problem == null) {
            broker.startedAfter(Duration.between(begin, Instant.now()));
            LOG.info("Kafka broker {} ready in {} ms (cluster {})", broker.bootstrapServers(),
                    broker.startupTime().toMillis(), clusterId);
            return broker;
        }
        broker.stopQuietly(Duration.ofSeconds(5), false);
        String tail = tail(logFile, logOffset, LOG_TAIL_LINES);
        String message = "Kafka broker on " + HOST + ":" + brokerPort + " did not start: " + problem + ".\n"
                + "Check the broker log " + logFile + (ownsDirectory ? " (deleted with its temporary data directory;"
                + " pass dataDirectory(...) to keep it)" : "") + " for the cause: a port already in use"
                + " (\"Address already in use\"), an invalid broker property, a data directory formatted for another"
                + " cluster or node, too little memory for -Xmx" + maxHeap + ", or a machine too slow for the "
                + startupTimeout.toSeconds() + " s startup timeout.\n"
                + "Last " + LOG_TAIL_LINES + " lines of the broker log:\n" + tail;
        KafkaBrokerException failure = new KafkaBrokerException(message);
        if (!process.isAlive()) {
            String bindFailure = tail.lines().filter(l -> l.contains("Address already in use")).findFirst().orElse(null);
            if (bindFailure != null) {
                throw new PortRaceException(failure, !bindFailure.contains(":" + brokerPort));
            }
        }
        throw failure;
    }

    /** Null when ready, else what went wrong. */
    private String awaitReady(Process process, int brokerPort, Instant deadline) {
        Admin admin = null;
        String lastProblem = "its port never accepted connections";
        try {
            while (true) {
                if (!process.isAlive()) {
                    int code = process.exitValue();
                    return "the broker JVM exited with code " + code + (code == BrokerMain.EXIT_FORMAT_FAILED
                            ? " while formatting its storage (kafka.tools.StorageTool format)" : " during startup");
                }
                Duration left = Duration.between(Instant.now(), deadline);
                if (left.isNegative() || left.isZero()) {
                    return "it was not ready within the startup timeout of " + startupTimeout.toSeconds() + " s ("
                            + lastProblem + ")";
                }
                if (admin == null) {
                    if (accepts(brokerPort)) {
                        admin = Admin.create(adminProperties(HOST + ":" + brokerPort));
                    } else {
                        sleep(100);
                        continue;
                    }
                }
                long waitMs = Math.max(1, Math.min(left.toMillis(), 5_000));
                try {
                    Collection<Node> nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) waitMs))
                            .nodes().get(waitMs + 500, TimeUnit.MILLISECONDS);
                    if (nodes.stream().anyMatch(n -> n.id() == NODE_ID)) {
                        return null;
                    }
                    lastProblem = "describeCluster listed no live broker " + NODE_ID + ": " + nodes;
                } catch (ExecutionException | TimeoutException e) {
                    Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                    lastProblem = "Admin describeCluster failed: " + cause;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new KafkaBrokerException("interrupted while waiting for the Kafka broker to start", e);
                }
                sleep(100);
            }
        } finally {
            if (admin != null) {
                admin.close(Duration.ofSeconds(2));
            }
        }
    }

    private static Properties adminProperties(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "onceflow-broker-launcher-readiness");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        p.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "50");
        p.put(AdminClientConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "500");
        return p;
    }

    private List<String> jvmCommand(Path serverProperties, Path log4j2, String clusterIdToFormat) {
        List<String> args = new ArrayList<>();
        args.add("-Xmx" + maxHeap);
        args.add("-Djava.awt.headless=true");
        args.add("-Dlog4j2.configurationFile=" + log4j2.toUri());
        // Kafka's shutdown hook logs the controlled shutdown; keep log4j2 alive until the JVM is gone
        args.add("-Dlog4j2.shutdownHookEnabled=false");
        if (isLoadable(LOG4J_SLF4J_PROVIDER)) {
            // the parent's classpath may also hold another slf4j binding (slf4j-simple in tests)
            args.add("-Dslf4j.provider=" + LOG4J_SLF4J_PROVIDER);
        }
        args.add("-Dkafka.logs.dir=" + serverProperties.getParent());
        args.addAll(jvmArguments);
        args.add("-cp");
        args.add(String.join(File.pathSeparator, childClasspath().stream().map(Path::toString).toList()));
        args.add(BrokerMain.class.getName());
        args.add("--parent-pid");
        args.add(Long.toString(ProcessHandle.current().pid()));
        args.add("--exit-on-stdin-eof");
        if (clusterIdToFormat != null) {
            args.add("--format-cluster-id");
            args.add(clusterIdToFormat);
        }
        args.add(serverProperties.toString());
        return args;
    }

    private void writeServerProperties(Path file, int brokerPort, int controllerPort, Path logDirs)
            throws IOException {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", Integer.toString(NODE_ID));
        p.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
        p.put("listeners", "PLAINTEXT://" + HOST + ":" + brokerPort + ",CONTROLLER://" + HOST + ":" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + brokerPort);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", logDirs.toString());
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.putAll(brokerProperties);
        StringBuilder sb = new StringBuilder("# written by onceflow KafkaBrokerLauncher at each start\n");
        p.forEach((k, v) -> sb.append(escapeProperty(k)).append('=').append(escapeProperty(v)).append('\n'));
        Files.writeString(file, sb, StandardCharsets.UTF_8);
    }

    private static String escapeProperty(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '=', ':', '#', '!' -> sb.append('\\').append(c);
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    /** The id in the storage's meta.properties if formatted, else the one in cluster.id, else a new one. */
    private static String clusterId(Path dir, Path logDirs, boolean formatted) {
        Path idFile = dir.resolve(CLUSTER_ID_FILE);
        try {
            String id = null;
            if (formatted) {
                Properties meta = new Properties();
                try (var in = Files.newBufferedReader(logDirs.resolve("meta.properties"), StandardCharsets.UTF_8)) {
                    meta.load(in);
                }
                id = meta.getProperty("cluster.id");
            }
            if (id == null && Files.exists(idFile)) {
                id = Files.readString(idFile, StandardCharsets.UTF_8).trim();
            }
            if (id == null || id.isEmpty()) {
                id = Uuid.randomUuid().toString();
            }
            if (!Files.exists(idFile) || !Files.readString(idFile, StandardCharsets.UTF_8).trim().equals(id)) {
                Files.writeString(idFile, id + "\n", StandardCharsets.UTF_8);
            }
            return id;
        } catch (IOException e) {
            throw new KafkaBrokerException("cannot read or write the cluster id in " + dir + ": " + e, e);
        }
    }

    private static final String LOG4J2_CONFIG = String.join("\n",
            "# written by onceflow KafkaBrokerLauncher: everything at INFO to standard output,",
            "# which the launcher appends to broker.log",
            "status = warn",
            "name = onceflow-kafka-broker",
            "appender.out.type = Console",
            "appender.out.name = STDOUT",
            "appender.out.target = SYSTEM_OUT",
            "appender.out.layout.type = PatternLayout",
            "appender.out.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.out.ref = STDOUT",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "logger.authorizer.name = kafka.authorizer.logger",
            "logger.authorizer.level = WARN",
            "");

    // ---------------------------------------------------------------- classpath

    static Path javaBinary() {
        boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
        return Paths.get(System.getProperty("java.home"), "bin", windows ? "java.exe" : "java");
    }

    /**
     * The classpath for the child JVM: this JVM's {@code java.class.path} with manifest {@code Class-Path}
     * entries expanded (Surefire's manifest-only booter jar, {@code java -jar} applications), the URLs of
     * URLClassLoaders above this class, and the code sources of the classes the broker JVM starts from.
     */
    static List<Path> childClasspath() {
        Set<Path> entries = new LinkedHashSet<>();
        String classPath = System.getProperty("java.class.path", "");
        for (String entry : classPath.split(File.pathSeparator)) {
            if (!entry.isBlank()) {
                addWithManifestClassPath(Paths.get(entry), entries);
            }
        }
        for (ClassLoader cl : List.of(KafkaBrokerLauncher.class.getClassLoader(),
                Thread.currentThread().getContextClassLoader())) {
            for (ClassLoader l = cl; l != null; l = l.getParent()) {
                if (l instanceof URLClassLoader u) {
                    for (URL url : u.getURLs()) {
                        toPath(url).ifPresent(p -> addWithManifestClassPath(p, entries));
                    }
                }
            }
        }
        for (String className : List.of(BrokerMain.class.getName(), KAFKA_MAIN, "kafka.tools.StorageTool",
                "scala.Predef", "org.apache.kafka.clients.admin.Admin", "org.slf4j.LoggerFactory",
                LOG4J_SLF4J_PROVIDER, "org.apache.logging.log4j.core.LoggerContext")) {
            codeSource(className).ifPresent(p -> addWithManifestClassPath(p, entries));
        }
        return new ArrayList<>(entries);
    }

    static void addWithManifestClassPath(Path entry, Set<Path> entries) {
        Path p = entry.toAbsolutePath().normalize();
        if (!Files.exists(p) || !entries.add(p) || !Files.isRegularFile(p)) {
            return;
        }
        try (JarFile jar = new JarFile(p.toFile())) {
            Manifest manifest = jar.getManifest();
            String cp = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
            if (cp == null || cp.isBlank()) {
                return;
            }
            URI base = p.toUri();
            for (String ref : cp.trim().split("\\s+")) {
                try {
                    URI resolved = base.resolve(relativeUri(ref));
                    if ("file".equals(resolved.getScheme())) {
                        addWithManifestClassPath(Paths.get(resolved), entries);
                    }
                } catch (URISyntaxException | IllegalArgumentException e) {
                    LOG.debug("ignoring Class-Path entry {} of {}: {}", ref, p, e.toString());
                }
            }
        } catch (IOException e) {
            LOG.debug("cannot read the manifest of {}: {}", p, e.toString());
        }
    }

    /** A Class-Path entry is a URL relative to its jar; tolerate unencoded ones (spaces). */
    private static URI relativeUri(String ref) throws URISyntaxException {
        try {
            return new URI(ref);
        } catch (URISyntaxException e) {
            return new URI(null, null, ref, null);
        }
    }

    private static java.util.Optional<Path> codeSource(String className) {
        try {
            Class<?> c = Class.forName(className, false, KafkaBrokerLauncher.class.getClassLoader());
            CodeSource cs = c.getProtectionDomain().getCodeSource();
            return cs == null || cs.getLocation() == null ? java.util.Optional.empty() : toPath(cs.getLocation());
        } catch (ClassNotFoundException | LinkageError | SecurityException e) {
            return java.util.Optional.empty();
        }
    }

    private static java.util.Optional<Path> toPath(URL url) {
        try {
            return "file".equals(url.getProtocol()) ? java.util.Optional.of(Paths.get(url.toURI()))
                    : java.util.Optional.empty();
        } catch (URISyntaxException | IllegalArgumentException e) {
            return java.util.Optional.empty();
        }
    }

    private static boolean isLoadable(String className) {
        try {
            Class.forName(className, false, KafkaBrokerLauncher.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static void requireBrokerOnClasspath() {
        if (!isLoadable(KAFKA_MAIN)) {
            throw new KafkaBrokerException("cannot launch a Kafka broker: class " + KAFKA_MAIN + " is not on the"
                    + " classpath. Add the dependency io.onceflow:onceflow-kafka-broker (which brings"
                    + " org.apache.kafka:kafka_2.13 and org.apache.logging.log4j:log4j-slf4j2-impl).");
        }
    }

    /** java @argfile syntax: each argument on its own line, quoted, with \ and " escaped. */
    private static List<String> quoteForArgFile(List<String> args) {
        return args.stream().map(a -> '"' + a.replace("\\", "\\\\").replace("\"", "\\\"") + '"').toList();
    }

    // ---------------------------------------------------------------- ports, files

    private static void requirePortFree(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(HOST), port));
        } catch (IOException e) {
            throw new KafkaBrokerException("cannot start a Kafka broker on " + HOST + ":" + port + ": the port is"
                    + " already in use (" + e.getMessage() + "). Stop whatever listens there (e.g. `ss -ltnp`"
                    + " shows it) or use port 0 to pick a free port.", e);
        }
    }

    private static int freePort(int avoid) {
        for (int i = 0; i < 10; i++) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getByName(HOST), 0));
                if (s.getLocalPort() != avoid) {
                    return s.getLocalPort();
                }
            } catch (IOException e) {
                throw new KafkaBrokerException("cannot find a free port on " + HOST + ": " + e, e);
            }
        }
        throw new KafkaBrokerException("cannot find a free port on " + HOST);
    }

    /**
     * The client port of the previous run on this data directory, if it is free again: a restarted broker
     * keeps its address, so clients configured with it (a pipeline under test) reconnect.
     */
    private static java.util.Optional<Integer> previousPortIfFree(Path dir) {
        Path previous = dir.resolve(SERVER_PROPERTIES);
        if (!Files.exists(previous)) {
            return java.util.Optional.empty();
        }
        try (var in = Files.newBufferedReader(previous, StandardCharsets.UTF_8)) {
            Properties p = new Properties();
            p.load(in);
            String advertised = p.getProperty("advertised.listeners", "");
            String prefix = "PLAINTEXT://" + HOST + ":";
            if (!advertised.startsWith(prefix)) {
                return java.util.Optional.empty();
            }
            int previousPort = Integer.parseInt(advertised.substring(prefix.length()).split(",")[0].trim());
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getByName(HOST), previousPort));
                return java.util.Optional.of(previousPort);
            }
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(HOST, port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0;
        }
    }

    /** The last {@code lines} lines of the file from byte {@code offset} on (at most the last 1 MiB). */
    static String tail(Path file, long offset, int lines) {
        try {
            long size = Files.size(file);
            long from = Math.max(offset, size - (1 << 20));
            byte[] bytes;
            try (var ch = Files.newByteChannel(file)) {
                ch.position(Math.min(from, size));
                var buf = java.nio.ByteBuffer.allocate((int) (size - Math.min(from, size)));
                while (buf.hasRemaining() && ch.read(buf) >= 0) {
                    // fill
                }
                bytes = java.util.Arrays.copyOf(buf.array(), buf.position());
            }
            List<String> all = new String(bytes, StandardCharsets.UTF_8).lines().toList();
            List<String> last = all.subList(Math.max(0, all.size() - lines), all.size());
            return last.isEmpty() ? "(the broker log is empty)" : String.join("\n", last);
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read the broker log " + file + ": " + e + ")";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaBrokerException("interrupted while waiting for the Kafka broker to start", e);
        }
    }

    /** A picked port was taken between picking and binding. */
    private static final class PortRaceException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient KafkaBrokerException failure;
        final boolean controllerPortOnly;

        PortRaceException(KafkaBrokerException failure, boolean controllerPortOnly) {
            super(failure.getMessage(), null, false, false);
            this.failure = failure;
            this.controllerPortOnly = controllerPortOnly;
        }
    }
}

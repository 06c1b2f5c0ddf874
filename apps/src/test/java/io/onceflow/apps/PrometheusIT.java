package io.onceflow.apps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.testing.TestInput;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitoring as a user runs it: a real Prometheus server (the Debian package {@code prometheus}; the
 * project's {@code .ci/run} installs it when missing) scrapes a running {@code wordcount} every second, and
 * its HTTP API answers the questions the dashboard asks; and the {@code docker/} files pass
 * {@code promtool} and {@code docker-compose config}.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PrometheusIT {

    private static RunningKafkaBroker broker;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() {
        broker = new KafkaBrokerLauncher().start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.stop();
        }
    }

    /** The path of a tool, or a failure saying how to get it. */
    private static String tool(String name, String debianPackage) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new AssertionError(name + " is not installed, and this test needs it: install the Debian package '"
                + debianPackage + "' (apt-get install " + debianPackage + "; the project's .ci/run does it when missing)");
    }

    private static Path dockerDir() {
        return Path.of(System.getProperty("onceflow.docker.dir", "../docker")).toAbsolutePath().normalize();
    }

    private static String runTool(Path log, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not end: " + List.of(cmd));
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        return out;
    }

    @Test
    void theDockerFilesPassPromtoolAndDockerComposeConfig() throws Exception {
        Path docker = dockerDir();
        String out = runTool(dir.resolve("promtool.log"), tool("promtool", "prometheus"), "check", "config",
                docker.resolve("prometheus/prometheus.yml").toString());
        assertTrue(out.contains("SUCCESS"), out);
        runTool(dir.resolve("compose.log"), tool("docker-compose", "docker-compose"), "-f",
                docker.resolve("docker-compose.yml").toString(), "config", "-q");
    }

    /** The strings of a JSON-style list {@code ["a", "b"]} that follows {@code key} in {@code text}. */
    private static List<String> list(String text, String key) {
        Matcher m = Pattern.compile(Pattern.quote(key) + "\\s*\\[(.*?)\\]", Pattern.DOTALL).matcher(text);
        assertTrue(m.find(), "no " + key + " [...] in:\n" + text);
        List<String> items = new ArrayList<>();
        Matcher item = Pattern.compile("\"([^\"]*)\"").matcher(m.group(1));
        while (item.find()) {
            items.add(item.group(1));
        }
        return items;
    }

    /**
     * The image's start command (the Dockerfile's ENTRYPOINT with the compose file's wordcount command), with
     * only the broker, the checkpoint volume and the jar's place swapped for this machine's: it runs the word
     * count, serves the health the compose healthcheck asks for, and stops on SIGTERM as a container stop does.
     */
    @Test
    void theImagesStartCommandRunsTheWordCount() throws Exception {
        Path docker = dockerDir();
        List<String> entrypoint = list(Files.readString(docker.resolve("Dockerfile")), "ENTRYPOINT");
        String compose = Files.readString(docker.resolve("docker-compose.yml"));
        List<String> command = list(compose.substring(compose.indexOf("  wordcount:")), "command:");
        assertEquals("wordcount", command.get(0), "the compose service runs the word count: " + command);
        assertTrue(compose.contains("/var/lib/onceflow/checkpoints") && entrypoint.contains("/opt/onceflow/onceflow.jar"),
                entrypoint + " " + command);
        try (var kafka = new KafkaChecks(broker.bootstrapServers())) {
            kafka.ensureTopic(command.get(command.indexOf("--input") + 1), 2);
        }
        // without the image's class-data archive (a missing one is passed over in silence): the next test has it
        List<String> cmd = localized(entrypoint, dir.resolve("no-archive.jsa"));
        for (int i = 0; i < command.size(); i++) {
            String a = command.get(i);
            if (a.equals("kafka:9092")) {
                a = broker.bootstrapServers();
            } else if (a.equals("/var/lib/onceflow/checkpoints")) {
                a = dir.resolve("checkpoints").toString();
            } else if (i > 0 && command.get(i - 1).equals("--metrics-port")) {
                a = "0";
            }
            cmd.add(a);
        }
        Path log = dir.resolve("image-command.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            int port = awaitMetricsPort(log, p);
            HttpClient http = HttpClient.newHttpClient();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline) {
                status = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode();
                Thread.sleep(200);
            }
            assertEquals(200, status, "the health the compose healthcheck asks for:\n" + Files.readString(log));
            p.destroy(); // SIGTERM, as docker stop sends
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "SIGTERM stops it:\n" + Files.readString(log));
            assertTrue(Files.readString(log).contains("Stopped after checkpoint"), Files.readString(log));
        } finally {
            p.destroyForcibly();
        }
    }

    /**
     * {@code command} from the Dockerfile with the jar's and the class-data archive's places swapped for this
     * machine's, and the image's {@code java} for this one's.
     */
    private static List<String> localized(List<String> command, Path archive) {
        List<String> cmd = new ArrayList<>();
        assertEquals("java", command.get(0), command.toString());
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : command.subList(1, command.size())) {
            if (a.equals("/opt/onceflow/onceflow.jar")) {
                a = System.getProperty("onceflow.jar");
            } else if (a.endsWith("=/opt/onceflow/onceflow.jsa")) {
                a = a.substring(0, a.indexOf('=') + 1) + archive;
            }
            cmd.add(a);
        }
        return cmd;
    }

    /**
     * The image's class-data sharing archive: its training run (the Dockerfile's {@code RUN} with
     * {@code ArchiveClassesAtExit}: the demo, with a broker of its own) writes an archive, and the image's start
     * command maps the command line's classes from it rather than loading them from the jar.
     */
    @Test
    void theImagesTrainingRunWritesTheClassDataArchiveItsStartCommandMaps() throws Exception {
        String dockerfile = Files.readString(dockerDir().resolve("Dockerfile"));
        List<String> training = list(dockerfile, "RUN");
        List<String> entrypoint = list(dockerfile, "ENTRYPOINT");
        assertTrue(training.contains("-XX:ArchiveClassesAtExit=/opt/onceflow/onceflow.jsa"), training.toString());
        assertTrue(entrypoint.contains("-XX:SharedArchiveFile=/opt/onceflow/onceflow.jsa"), entrypoint.toString());
        Path archive = dir.resolve("onceflow.jsa");

        Path trainingLog = dir.resolve("training.log");
        Process p = new ProcessBuilder(localized(training, archive)).redirectErrorStream(true)
                .redirectOutput(trainingLog.toFile()).start();
        try {
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the training run did not end:\n" + Files.readString(trainingLog));
            assertEquals(0, p.exitValue(), "the training run failed:\n" + Files.readString(trainingLog));
        } finally {
            p.destroyForcibly();
        }
        assertTrue(Files.size(archive) > 1_000_000, "archive of " + Files.size(archive) + " bytes");

        List<String> start = localized(entrypoint, archive);
        start.add(1, "-Xlog:class+load=info");
        start.add("--help");
        String out = runTool(dir.resolve("start.log"), start.toArray(String[]::new));
        assertTrue(out.contains("io.onceflow.apps.OnceflowCommand source: shared objects file"),
                "the start command did not map the jar's classes from the archive:\n"
                        + out.lines().filter(l -> l.contains("io.onceflow")).limit(5).toList());
    }

    @Test
    void aRealPrometheusScrapesWordcountAndAnswersTheDashboardsQuestions() throws Exception {
        String prometheus = tool("prometheus", "prometheus");
        String bootstrap = broker.bootstrapServers();
        try (var kafka = new KafkaChecks(bootstrap)) {
            kafka.ensureTopic("prom-in", 2);
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            Random random = new Random(1);
            try (TestInput input = TestInput.to(bootstrap)) {
                while (writing.get()) {
                    for (int i = 0; i < 100; i++) {
                        input.send("prom-in", "w" + random.nextInt(50) + " w" + random.nextInt(50));
                    }
                    input.flush();
                    Thread.sleep(50);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "input writer");
        writer.start();
        Path log = dir.resolve("wordcount.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process wordcount = new ProcessBuilder(java, "-Xmx384m", "-jar", System.getProperty("onceflow.jar"), "wordcount",
                "--bootstrap-servers", bootstrap, "--input", "prom-in", "--output", "prom-out", "--checkpoint-dir",
                dir.resolve("checkpoints").toString(), "--checkpoint-interval", "500ms", "--metrics-port", "0")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Process server = null;
        try {
            int metricsPort = awaitMetricsPort(log, wordcount);
            int apiPort;
            try (ServerSocket s = new ServerSocket(0)) {
                apiPort = s.getLocalPort();
            }
            Path config = dir.resolve("prometheus.yml");
            Files.writeString(config, String.join("\n",
                    "global:",
                    "  scrape_interval: 1s",
                    "  evaluation_interval: 1s",
                    "scrape_configs:",
                    "  - job_name: onceflow",
                    "    static_configs:",
                    "      - targets: [\"127.0.0.1:" + metricsPort + "\"]",
                    ""));
            Path serverLog = dir.resolve("prometheus.log");
            server = new ProcessBuilder(prometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir.resolve("tsdb"),
                    "--web.listen-address=127.0.0.1:" + apiPort)
                    .redirectErrorStream(true).redirectOutput(serverLog.toFile()).start();
            HttpClient http = HttpClient.newHttpClient();
            double checkpoints = await(http, apiPort, "max(onceflow_checkpoints_completed_total)", v -> v > 0, server, serverLog);
            double rate = await(http, apiPort, "sum(rate(onceflow_job_records_in_total[10s]))", v -> v > 0, server, serverLog);
            double p99 = await(http, apiPort, "histogram_quantile(0.99, sum by (le) "
                    + "(rate(onceflow_operator_commit_latency_seconds_bucket[20s])))", v -> !Double.isNaN(v) && v > 0,
                    server, serverLog);
            double lag = await(http, apiPort, "sum(onceflow_operator_records_lag)", v -> v >= 0, server, serverLog);
            // input written now, visible at the next commits: well under a minute, more than nothing
            double endToEnd = await(http, apiPort, "histogram_quantile(0.5, sum by (le) "
                    + "(rate(onceflow_operator_end_to_end_latency_seconds_bucket{operator=\"kafka-output\"}[20s])))",
                    v -> v > 0 && v < 60, server, serverLog);
            System.out.printf("Prometheus saw: %.0f checkpoints, %.0f records/s in, commit latency p99 %.3f s, lag %.0f, "
                    + "end-to-end latency p50 %.3f s%n", checkpoints, rate, p99, lag, endToEnd);
        } finally {
            writing.set(false);
            writer.join(30_000);
            if (server != null) {
                server.destroy();
                server.waitFor(30, TimeUnit.SECONDS);
            }
            wordcount.destroy();
            if (!wordcount.waitFor(60, TimeUnit.SECONDS)) {
                wordcount.destroyForcibly();
            }
        }
    }

    private static int awaitMetricsPort(Path log, Process wordcount) throws Exception {
        Pattern port = Pattern.compile("Metrics: http://localhost:([0-9]+)/metrics");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Matcher m = port.matcher(Files.readString(log));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            assertTrue(wordcount.isAlive(), "wordcount ended:\n" + Files.readString(log));
            Thread.sleep(100);
        }
        throw new AssertionError("wordcount printed no metrics port:\n" + Files.readString(log));
    }

    private static final Pattern VALUE = Pattern.compile("\"value\":\\[[0-9.e+]+,\"([^\"]+)\"\\]");

    /** Asks Prometheus' API {@code query} until its (first) value passes {@code test}, and returns it. */
    private static double await(HttpClient http, int port, String query, java.util.function.DoublePredicate test,
                                Process server, Path serverLog) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        String last = "(no answer yet)";
        while (System.nanoTime() < deadline) {
            assertTrue(server.isAlive(), "Prometheus ended:\n" + Files.readString(serverLog));
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                        + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8))).build(),
                        HttpResponse.BodyHandlers.ofString());
                last = r.body();
                Matcher m = VALUE.matcher(r.body());
                if (r.statusCode() == 200 && m.find()) {
                    double v = Double.parseDouble(m.group(1));
                    if (test.test(v)) {
                        return v;
                    }
                }
            } catch (IOException e) {
                last = e.toString(); // not listening yet
            }
            Thread.sleep(500);
        }
        List<String> tail = new ArrayList<>(Files.readAllLines(serverLog));
        throw new AssertionError("Prometheus never answered '" + query + "' as expected; last answer: " + last
                + "\nits log:\n" + String.join("\n", tail.subList(Math.max(0, tail.size() - 20), tail.size())));
    }
}

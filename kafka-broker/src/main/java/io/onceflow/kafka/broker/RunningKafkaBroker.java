package io.onceflow.kafka.broker;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka broker started by {@link KafkaBrokerLauncher#start()}, running in a child JVM until
 * {@link #stop()} (or {@link #close()}), or until this JVM exits.
 */
public final class RunningKafkaBroker implements AutoCloseable {
    /** How long {@link #stop()} waits for the controlled shutdown before killing the broker JVM. */
    public static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
    /** The shorter wait of the shutdown hook, which runs while this JVM exits. */
    static final Duration SHUTDOWN_HOOK_STOP_TIMEOUT = Duration.ofSeconds(20);

    private static final Logger LOG = LoggerFactory.getLogger(RunningKafkaBroker.class);

    private final Process process;
    private final int port;
    private final int controllerPort;
    private final Path dataDirectory;
    private final Path logFile;
    private final String clusterId;
    private final boolean deleteDataDirectoryOnStop;
    private final Thread shutdownHook;
    private volatile Duration startupTime = Duration.ZERO;
    private boolean stopped;

    RunningKafkaBroker(Process process, int port, int controllerPort, Path dataDirectory, Path logFile,
            String clusterId, boolean deleteDataDirectoryOnStop) {
        this.process = process;
        this.port = port;
        this.controllerPort = controllerPort;
        this.dataDirectory = dataDirectory;
        this.logFile = logFile;
        this.clusterId = clusterId;
        this.deleteDataDirectoryOnStop = deleteDataDirectoryOnStop;
        this.shutdownHook = new Thread(() -> stop(SHUTDOWN_HOOK_STOP_TIMEOUT, deleteDataDirectoryOnStop, true),
                "onceflow-kafka-broker-" + process.pid() + "-shutdown");
    }

    /** For {@code bootstrap.servers}: {@code 127.0.0.1:PORT}. */
    public String bootstrapServers() {
        return KafkaBrokerLauncher.HOST + ":" + port;
    }

    /** The client (PLAINTEXT) port on 127.0.0.1. */
    public int port() {
        return port;
    }

    /** The KRaft controller listener's port on 127.0.0.1 (clients never need it). */
    public int controllerPort() {
        return controllerPort;
    }

    /** The broker's data directory (see {@link KafkaBrokerLauncher} for its layout). */
    public Path dataDirectory() {
        return dataDirectory;
    }

    /** The broker's log: its standard output and error and its log4j2 log, in the data directory. */
    public Path logFile() {
        return logFile;
    }

    public String clusterId() {
        return clusterId;
    }

    /** The broker JVM's process id. */
    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** From the call to start until the broker was ready. */
    public Duration startupTime() {
        return startupTime;
    }

    /** True if stopping deletes the data directory (a temporary one made by the launcher). */
    public boolean deletesDataDirectoryOnStop() {
        return deleteDataDirectoryOnStop;
    }

    /**
     * Stops the broker: SIGTERM, so Kafka shuts down in order (flushes and closes its logs), then
     * waits up to {@link #STOP_TIMEOUT}, then kills it. Deletes the data directory if the launcher
     * created it. Does nothing if already stopped.
     */
    public void stop() {
        stop(STOP_TIMEOUT, deleteDataDirectoryOnStop, false);
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    @Override
    public String toString() {
        return "RunningKafkaBroker[" + bootstrapServers() + ", pid " + process.pid() + ", " + dataDirectory + "]";
    }

    void startedAfter(Duration startupTime) {
        this.startupTime = startupTime;
    }

    void registerShutdownHook() {
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** For a failed start: stop without deleting anything (the launcher decides). */
    void stopQuietly(Duration timeout, boolean deleteDataDirectory) {
        stop(timeout, deleteDataDirectory, false);
    }

    private synchronized void stop(Duration timeout, boolean deleteDataDirectory, boolean fromShutdownHook) {
        if (stopped) {
            return;
        }
        stopped = true;
        if (!fromShutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // this JVM is already shutting down; the hook's own call finds the broker stopped
            }
        }
        terminate(timeout);
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            // the pipe is gone with the child
        }
        if (deleteDataDirectory) {
            deleteRecursively(dataDirectory);
        }
    }

    private void terminate(Duration timeout) {
        if (!process.isAlive()) {
            return;
        }
        long begin = System.nanoTime();
        process.destroy(); // SIGTERM: Kafka's shutdown hook runs a controlled shutdown
        boolean exited = waitFor(timeout);
        if (!exited) {
            LOG.warn("Kafka broker {} (pid {}) did not stop within {} s after SIGTERM; killing it. See {}",
                    bootstrapServers(), process.pid(), timeout.toSeconds(), logFile);
            process.destroyForcibly();
            waitFor(Duration.ofSeconds(10));
        } else {
            LOG.info("Kafka broker {} (pid {}) stopped in {} ms", bootstrapServers(), process.pid(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
        }
    }

    private boolean waitFor(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            return false;
        }
    }

    static void deleteRecursively(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    Files.deleteIfExists(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.warn("cannot delete the Kafka broker data directory {}: {}", root, e.toString());
        }
    }
}

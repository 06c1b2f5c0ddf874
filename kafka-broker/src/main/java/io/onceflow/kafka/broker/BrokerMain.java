package io.onceflow.kafka.broker;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Entry point of the broker's child JVM started by {@link KafkaBrokerLauncher}.
 *
 * <pre>
 * BrokerMain [--parent-pid PID] [--exit-on-stdin-eof] [--format-cluster-id ID] server.properties
 * </pre>
 *
 * <ol>
 *   <li>{@code --parent-pid}: a daemon thread ends this JVM (an orderly {@code System.exit}, so
 *       Kafka's shutdown hook runs; {@code halt} after {@value #EXIT_GRACE_SECONDS} s) once that
 *       process is gone, even when it was killed with {@code SIGKILL};</li>
 *   <li>{@code --exit-on-stdin-eof}: the same as soon as standard input reaches end of file, which
 *       happens at once when the parent dies, since the parent holds the other end of the pipe;</li>
 *   <li>{@code --format-cluster-id}: first formats the KRaft storage with
 *       {@code kafka.tools.StorageTool format -t ID -c server.properties --ignore-formatted},
 *       in this JVM;</li>
 *   <li>then runs {@code kafka.Kafka server.properties}, which returns only when the broker stops.</li>
 * </ol>
 */
public final class BrokerMain {
    static final int EXIT_GRACE_SECONDS = 30;
    /** Exit code when formatting the storage failed. */
    static final int EXIT_FORMAT_FAILED = 3;
    /** Exit code when the command line is wrong. */
    static final int EXIT_USAGE = 2;

    private static final AtomicBoolean EXITING = new AtomicBoolean();

    private BrokerMain() {
    }

    public static void main(String[] args) throws Exception {
        long parentPid = -1;
        boolean exitOnStdinEof = false;
        String clusterIdToFormat = null;
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--parent-pid" -> parentPid = Long.parseLong(requireValue(args, ++i));
                case "--exit-on-stdin-eof" -> exitOnStdinEof = true;
                case "--format-cluster-id" -> clusterIdToFormat = requireValue(args, ++i);
                default -> rest.add(args[i]);
            }
        }
        if (rest.size() != 1) {
            usage("expected exactly one server.properties file, got " + rest);
        }
        String serverProperties = rest.get(0);

        if (parentPid > 0) {
            watchParent(parentPid);
        }
        if (exitOnStdinEof) {
            watchStdin();
        }
        if (clusterIdToFormat != null) {
            format(clusterIdToFormat, serverProperties);
        }
        log("starting kafka.Kafka " + serverProperties);
        kafka.Kafka.main(new String[] {serverProperties});
    }

    private static void format(String clusterId, String serverProperties) {
        String[] formatArgs = {"format", "-t", clusterId, "-c", serverProperties, "--ignore-formatted"};
        log("formatting the KRaft storage: kafka.tools.StorageTool " + String.join(" ", formatArgs));
        int rc;
        try {
            rc = kafka.tools.StorageTool.execute(formatArgs, System.out);
        } catch (RuntimeException e) {
            log("formatting the KRaft storage failed: " + e);
            e.printStackTrace();
            rc = EXIT_FORMAT_FAILED;
        }
        if (rc != 0) {
            log("kafka.tools.StorageTool format failed (exit code " + rc + "); not starting the broker");
            System.exit(EXIT_FORMAT_FAILED);
        }
    }

    private static void watchParent(long parentPid) {
        Optional<ProcessHandle> parent = ProcessHandle.of(parentPid);
        if (parent.isEmpty() || !parent.get().isAlive()) {
            log("the parent process " + parentPid + " is already gone; not starting the broker");
            System.exit(1);
        }
        // completes when the parent exits, however it exits (polled by the JDK for non-child processes)
        parent.get().onExit().thenRun(() -> exit("the parent process " + parentPid + " exited"));
    }

    private static void watchStdin() {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[256];
            try (InputStream in = System.in) {
                while (in.read(buf) >= 0) {
                    // discard: the parent never writes, it only holds the pipe open
                }
                exit("standard input was closed (the parent process is gone or stopped the broker)");
            } catch (IOException e) {
                exit("standard input failed (" + e + ")");
            }
        }, "onceflow-broker-stdin-watch");
        t.setDaemon(true);
        t.start();
    }

    /** Orderly exit (runs Kafka's shutdown hook), with a halt if that takes too long. */
    private static void exit(String reason) {
        if (!EXITING.compareAndSet(false, true)) {
            return;
        }
        log(reason + "; shutting the broker down");
        Thread halter = new Thread(() -> {
            try {
                Thread.sleep(EXIT_GRACE_SECONDS * 1000L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            log("the broker did not shut down within " + EXIT_GRACE_SECONDS + " s; halting");
            Runtime.getRuntime().halt(1);
        }, "onceflow-broker-halter");
        halter.setDaemon(true);
        halter.start();
        Thread exiter = new Thread(() -> System.exit(0), "onceflow-broker-exit");
        exiter.setDaemon(true);
        exiter.start();
    }

    private static String requireValue(String[] args, int i) {
        if (i >= args.length) {
            usage("missing value after " + args[i - 1]);
        }
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("BrokerMain: " + problem);
        System.err.println("usage: BrokerMain [--parent-pid PID] [--exit-on-stdin-eof]"
                + " [--format-cluster-id ID] server.properties");
        System.exit(EXIT_USAGE);
    }

    private static void log(String message) {
        System.out.println("[" + java.time.LocalDateTime.now() + "] [onceflow BrokerMain] " + message);
        System.out.flush();
    }
}

package io.onceflow.benchmarks;

import io.onceflow.api.CheckpointStats;
import io.onceflow.api.JobClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * Where an Onceflow checkpoint's time goes, as the job's own checkpoint statistics tell it: the job's process
 * prints a line {@code CHECKPOINT_PHASES <trigger epoch ms> <id> <six phase ends in µs after the trigger>} for
 * each checkpoint once its sinks committed, and the benchmark sums up those of a measured interval. This
 * explains the latency figures; it is never used to judge a run (the read_committed consumer does that).
 */
final class CheckpointPhases {
    static final String MARKER = "CHECKPOINT_PHASES ";
    static final List<String> NAMES = List.of("aligned", "sync done", "acknowledged", "durable", "notified", "committed");

    private CheckpointPhases() {
    }

    /** In the job's process: prints each checkpoint's phases once its sinks committed, until the job ends. */
    static void printUntilEnd(JobClient job) throws Exception {
        long printed = 0;
        while (true) {
            for (CheckpointStats s : job.getCompletedCheckpoints()) {
                CheckpointStats.Phases p = s.phases();
                if (s.checkpointId() > printed && p.committedMicros() >= 0) {
                    System.out.println(MARKER + s.triggerTimestamp() + " " + s.checkpointId() + " " + p.alignedMicros()
                            + " " + p.syncDoneMicros() + " " + p.acknowledgedMicros() + " " + p.durableMicros() + " "
                            + p.notifiedMicros() + " " + p.committedMicros());
                    printed = s.checkpointId();
                }
            }
            System.out.flush();
            try {
                job.awaitTermination(Duration.ofMillis(200));
                return;
            } catch (TimeoutException stillRunning) {
                // print what completed meanwhile
            }
        }
    }

    /** The median and 99th percentile of each phase's end, in ms after the trigger, over {@code checkpoints}. */
    record Summary(int checkpoints, double[] p50, double[] p99) {
        double p50(int phase) {
            return p50[phase];
        }

        double p99(int phase) {
            return p99[phase];
        }
    }

    /** The checkpoints the job reported in {@code log} that were triggered between the two times, or null if none. */
    static Summary read(Path log, long fromMillis, long toMillis) throws IOException {
        List<long[]> phases = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (!line.startsWith(MARKER)) {
                continue;
            }
            String[] f = line.substring(MARKER.length()).trim().split(" ");
            long trigger = Long.parseLong(f[0]);
            if (trigger < fromMillis || trigger > toMillis || f.length != 2 + NAMES.size()) {
                continue;
            }
            long[] p = new long[NAMES.size()];
            for (int i = 0; i < p.length; i++) {
                p[i] = Long.parseLong(f[2 + i]);
            }
            phases.add(p);
        }
        if (phases.isEmpty()) {
            return null;
        }
        double[] p50 = new double[NAMES.size()];
        double[] p99 = new double[NAMES.size()];
        for (int i = 0; i < NAMES.size(); i++) {
            final int phase = i;
            long[] sorted = phases.stream().mapToLong(p -> p[phase]).sorted().toArray();
            p50[i] = sorted[(int) Math.min(sorted.length - 1, Math.round(0.50 * (sorted.length - 1)))] / 1000.0;
            p99[i] = sorted[(int) Math.min(sorted.length - 1, Math.round(0.99 * (sorted.length - 1)))] / 1000.0;
        }
        return new Summary(phases.size(), p50, p99);
    }
}

package io.onceflow.wal;

import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.testing.SequenceSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

/**
 * One checkpoint far larger than the heap through the write-ahead sink, as a program of its own for
 * {@link WriteAheadSinkMemoryTest} (run with a small {@code -Xmx}): {@code records} records of about 400
 * bytes, a checkpoint interval longer than the job so that the only checkpoint is the final one, and a
 * sender that writes what it received, as "checkpoint subtask records bytes", to a result file.
 *
 * <p>Arguments: records, checkpoint directory, spill directory, result file.
 */
public final class BigCheckpointMain {

    private BigCheckpointMain() {
    }

    public static void main(String[] args) throws Exception {
        long records = Long.parseLong(args[0]);
        String result = args[3];
        String padding = "x".repeat(390);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofHours(1));
        env.getCheckpointConfig().setCheckpointStorage(Path.of(args[1]).toUri().toString());
        env.fromSource(SequenceSource.bounded(1, records, 1000), "sequence").uid("source")
                .map(w -> w + "," + padding)
                .sinkTo(WriteAheadSink.builder(Serializers.STRING).setSpillDirectory(Path.of(args[2]))
                        .setSender(context -> (values, checkpointId, subtask) -> {
                            long n = 0;
                            long bytes = 0;
                            for (String v : values) {
                                n++;
                                bytes += v.length();
                            }
                            Files.writeString(Path.of(result), checkpointId + " " + subtask + " " + n + " " + bytes + "\n",
                                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                            return true;
                        }).build()).uid("wal");
        env.execute("wal-big");
        System.out.println("max heap " + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB");
    }
}

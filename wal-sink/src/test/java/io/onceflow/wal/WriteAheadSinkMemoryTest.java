package io.onceflow.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A checkpoint of a million records, larger than the heap, goes through a JVM with {@code -Xmx256m}. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class WriteAheadSinkMemoryTest {
    private static final long RECORDS = 1_000_000;

    @TempDir
    Path dir;

    @Test
    void aMillionRecordsInOneCheckpointWithA256MiBHeap() throws Exception {
        Path result = dir.resolve("received.txt");
        Path log = dir.resolve("child.log");
        Process child = ChildJvm.of(BigCheckpointMain.class, List.of("-Xmx256m",
                        "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider"),
                        Long.toString(RECORDS), dir.resolve("checkpoints").toString(), dir.resolve("spill").toString(),
                        result.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertTrue(child.waitFor(240, TimeUnit.SECONDS), "the job did not finish:\n" + Files.readString(log));
        } finally {
            child.destroyForcibly();
        }
        String output = Files.readString(log);
        assertEquals(0, child.exitValue(), output);
        assertTrue(output.contains("max heap "), output);
        List<String> batches = Files.readAllLines(result);
        assertEquals(1, batches.size(), "one checkpoint, one batch: " + batches);
        String[] fields = batches.get(0).split(" ");
        assertEquals(RECORDS, Long.parseLong(fields[2]), "records received: " + batches);
        long bytes = Long.parseLong(fields[3]);
        assertTrue(bytes > 256L * 1024 * 1024, "the batch (" + bytes + " chars) is larger than the heap");
        System.out.printf("write-ahead batch of %,d records, %,d chars, through -Xmx256m%n", RECORDS, bytes);
    }
}

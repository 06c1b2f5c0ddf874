package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.SequenceChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * RocksDB state larger than the heap: a child JVM with {@code -Xmx256m} builds about 2.1 GB of state
 * (more with {@code -Dlargestate.keys}), checkpoints it, is killed with {@code kill -9} while it reads
 * the state back, and a new child JVM with the same small heap restores it and finishes: every key's
 * value comes back intact, exactly once.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class LargeStateTest {

    private static final int KEYS = Integer.getInteger("largestate.keys", 2_000_000);
    private static final int VALUE_BYTES = 1_024;

    @TempDir
    Path dir;

    private Process start(Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                LargeStateJobMain.class.getName(), dir.resolve("checkpoints").toString(), dir.resolve("out").toString(),
                dir.resolve("rocksdb").toString(), Integer.toString(KEYS), Integer.toString(VALUE_BYTES));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    /** Bytes of the files under {@code dir}, which the running job changes: files it deletes meanwhile are passed over. */
    private static long size(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return 0;
        }
        long[] total = {0};
        Files.walkFileTree(dir, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs) {
                if (attrs.isRegularFile()) {
                    total[0] += attrs.size();
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFileFailed(Path file, java.io.IOException e) throws java.io.IOException {
                if (e instanceof java.nio.file.NoSuchFileException) {
                    return java.nio.file.FileVisitResult.CONTINUE; // a subsumed checkpoint's file, deleted as we walked
                }
                throw e;
            }
        });
        return total[0];
    }

    @Test
    void stateLargerThanTheHeapIsCheckpointedAndRestoredInASmallHeap() throws Exception {
        Path log = dir.resolve("child.log");
        CommittedStore output = CommittedStore.inDirectory(dir.resolve("out"));
        Process first = start(log);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        // pass two has begun and a checkpoint taken during it committed results: kill there
        while (output.readAll().isEmpty() && first.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertTrue(first.isAlive(), "the first run ended early:\n" + Files.readString(log));
        long stateOnDisk = size(dir.resolve("checkpoints"));
        first.destroyForcibly();
        assertTrue(first.waitFor(60, TimeUnit.SECONDS));
        assertEquals(137, first.exitValue());
        long committedAtKill = output.readAll().size();

        Process second = start(log);
        assertTrue(second.waitFor(15, TimeUnit.MINUTES), "the restored run finishes:\n" + Files.readString(log));
        String text = Files.readString(log);
        assertEquals(0, second.exitValue(), text);
        assertTrue(text.contains("resumes from checkpoint"), text);

        Map<String, Long> expected = new HashMap<>();
        for (int k = 0; k < KEYS; k++) {
            expected.put("key-" + k, 1L);
        }
        List<String> results = output.readAll();
        SequenceChecker.Result result = SequenceChecker.check(results, expected);
        assertTrue(result.exact(), "every key checked once, its value intact: " + result);
        assertFalse(results.stream().anyMatch(r -> r.endsWith(",0")), "a value came back wrong");
        long heapBytes = 256L << 20;
        System.out.printf("state in the checkpoint at the kill: %,d bytes (heap %,d); results committed then: %,d of %,d%n",
                stateOnDisk, heapBytes, committedAtKill, KEYS);
        assertTrue(stateOnDisk > 2 * heapBytes, "the checkpointed state is larger than the heap: " + stateOnDisk);
        assertTrue(committedAtKill < KEYS, "the kill came before the end");
    }
}

package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.state.rocksdb.RocksDBKeyedStateBackend;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The RocksDB backend's local working directories after {@code kill -9}: a process killed with its databases open
 * leaves them on the disk, and the next process to open a backend in the same local directory deletes them; the
 * directories of running processes, this one's and another's, are left alone.
 */
class RocksDBWorkingDirectoryTest {

    private static final ValueStateDescriptor<Long> COUNT = new ValueStateDescriptor<>("count", Long.class);

    @TempDir
    Path base;

    private static RocksDBKeyedStateBackend open(Path base) {
        return new RocksDBKeyedStateBackend("job", "op", 0, null, 128, new KeyGroupRange(0, 127),
                RocksDBStateBackend.create().withLocalDirectory(base));
    }

    /** A child JVM that opens a backend in {@code base}, writes to it, says where, and then waits or exits. */
    public static void main(String[] args) throws Exception {
        RocksDBKeyedStateBackend b = open(Path.of(args[0]));
        b.setCurrentKey("k");
        b.getState(COUNT).update(1L);
        System.out.println("open " + b.directory().getParent());
        System.out.flush();
        if (args[1].equals("exit")) {
            b.close();
            return;
        }
        Thread.sleep(TimeUnit.MINUTES.toMillis(10));
    }

    private Process child(String mode) throws Exception {
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), RocksDBWorkingDirectoryTest.class.getName(),
                base.toString(), mode).redirectErrorStream(true).start();
    }

    /** The child's working directory, from its first line. */
    private static Path opened(Process p) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith("open ")) {
                return Path.of(line.substring(5));
            }
            seen.append(line).append('\n');
        }
        throw new AssertionError("the child ended before opening a backend: " + seen);
    }

    private static void runToTheEnd(Process p) throws Exception {
        opened(p);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child ends");
        assertEquals(0, p.exitValue());
    }

    private static long count(RocksDBKeyedStateBackend b) throws Exception {
        b.setCurrentKey("k");
        ValueState<Long> count = b.getState(COUNT);
        count.update(count.value() == null ? 1L : count.value() + 1);
        return count.value();
    }

    @Test
    void theDatabasesOfAKilledProcessAreDeletedByTheNextOneAndNoLiveOnes() throws Exception {
        Process killed = child("wait");
        Path killedDirectory;
        try {
            killedDirectory = opened(killed);
            assertTrue(Files.exists(killedDirectory.resolve("db")), killedDirectory.toString());
            try (RocksDBKeyedStateBackend mine = open(base)) {
                assertTrue(Files.exists(killedDirectory.resolve("db")), "a running process's directory is kept");
                assertEquals(1, count(mine));
            }
        } finally {
            killed.destroyForcibly();  // SIGKILL: the child deletes nothing
            assertTrue(killed.waitFor(60, TimeUnit.SECONDS));
        }
        assertTrue(Files.exists(killedDirectory.resolve("db")), "kill -9 left the database behind");

        try (RocksDBKeyedStateBackend first = open(base)) {
            assertFalse(Files.exists(killedDirectory), "the killed process's directory is deleted by the next open");
            Path firstDirectory = first.directory().getParent();
            try (RocksDBKeyedStateBackend second = open(base.resolve("."))) {  // the same directory, named otherwise
                // another process's clean-up after this one opened two: both stay locked, neither is deleted
                runToTheEnd(child("exit"));
                assertTrue(Files.exists(firstDirectory.resolve("db")), "this process's first directory is kept");
                assertTrue(Files.exists(second.directory()), "and its second");
                assertEquals(1, count(first));
                assertEquals(2, count(first));
                assertEquals(1, count(second));
            }
            assertTrue(Files.exists(firstDirectory), "closing one backend keeps the other's directory");
        }
        try (var left = Files.list(base)) {
            assertEquals(0, left.count(), "everything deleted once every backend is closed");
        }
    }
}

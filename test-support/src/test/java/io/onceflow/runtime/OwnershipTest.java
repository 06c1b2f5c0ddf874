package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobStatus;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.runtime.storage.FileSystemCheckpointStorage;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.storage.Ownership;
import io.onceflow.runtime.storage.OwnershipLostException;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.SequenceChecker;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One owner per job and checkpoint directory: a second start while the owner lives is refused with a
 * message naming it, a start after {@code kill -9} of the owner takes over by itself, and a take-over
 * from a live owner fences it.
 */
class OwnershipTest {

    private static final long TOTAL = 60_000;
    private static final int KEYS = 100;

    @TempDir
    Path dir;

    @Test
    void aSecondStartIsRefusedNamingTheOwnerAndAStartAfterKillDashNineTakesOver() throws Exception {
        Path checkpoints = dir.resolve("checkpoints");
        Path out = dir.resolve("out");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process owner = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                CountJobMain.class.getName(), checkpoints.toString(), out.toString(), Long.toString(TOTAL),
                Integer.toString(KEYS), "2", "2000").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("child.log").toFile())).start();
        CommittedStore output = CommittedStore.inDirectory(out);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (output.readAll().isEmpty() && owner.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(owner.isAlive() && !output.readAll().isEmpty(), "the child runs and has committed output");

            StreamEnvironment second = CountJobMain.build(checkpoints, out, TOTAL, KEYS, 2, 2000);
            OwnershipLostException refused = assertThrows(OwnershipLostException.class, () -> second.executeAsync("count"));
            String host = InetAddress.getLocalHost().getHostName();
            assertTrue(refused.getMessage().contains("is already running")
                            && refused.getMessage().contains("pid " + owner.pid() + " on host " + host + " since ")
                            && refused.getMessage().contains("--take-over"),
                    "names the owner and what to do: " + refused.getMessage());
        } finally {
            owner.destroyForcibly();
            assertTrue(owner.waitFor(30, TimeUnit.SECONDS));
        }
        assertEquals(137, owner.exitValue(), "killed with SIGKILL");

        JobClient next = CountJobMain.build(checkpoints, out, TOTAL, KEYS, 2, 20_000).executeAsync("count");
        assertEquals(JobStatus.FINISHED, next.awaitTermination(Duration.ofSeconds(120)), "took over without manual steps");
        SequenceChecker.Result result = SequenceChecker.check(output.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact() && result.records() == TOTAL, result.toString());
    }

    @Test
    void twoJobObjectsInOneProcessAreRefusedToo() throws Exception {
        JobCheckpointStore store = new FileSystemCheckpointStorage(dir).forJob("job");
        Ownership first = store.acquireOwnership(false);
        OwnershipLostException e = assertThrows(OwnershipLostException.class, () -> store.acquireOwnership(false));
        assertTrue(e.getMessage().contains("this very process"), e.getMessage());
        first.release();
        Ownership again = store.acquireOwnership(false);
        again.verify();
        again.release();
    }

    @Test
    void aTakeOverFencesTheLiveOwner() throws Exception {
        JobCheckpointStore store = new FileSystemCheckpointStorage(dir).forJob("job");
        Ownership hung = store.acquireOwnership(false);
        Ownership taker = store.acquireOwnership(true);
        taker.verify();
        OwnershipLostException fenced = assertThrows(OwnershipLostException.class, hung::verify);
        assertTrue(fenced.getMessage().contains("Another instance took this job over"), fenced.getMessage());
        try (var files = Files.list(dir.resolve("job"))) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertTrue(names.contains("_owner.lock") && names.stream().anyMatch(n -> n.startsWith("_owner.lock.taken-over-")),
                    names.toString());
        }
        hung.release();
        taker.release();
    }
}

package io.onceflow.runtime.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.runtime.CountJobMain;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.SequenceChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints on a real in-process HDFS ({@code MiniDFSCluster}): a job on RocksDB with incremental
 * checkpoints keeps them on HDFS, is killed with {@code kill -9}, and a new process with another working
 * directory restores from HDFS alone and finishes with exact output; meanwhile a second start is
 * refused by the owner's lease. The restart runs on the same machine as the killed process, so it knows
 * the owner is gone and recovers its lease at once; a lock held by a process of another machine is waited
 * for until HDFS lets its lease expire (its soft limit, a minute by default, shortened for that test).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HdfsCheckpointTest {

    private static final long TOTAL = 120_000;
    private static final int KEYS = 300;

    private static MiniDFSCluster hdfs;

    @TempDir
    static Path base;

    @BeforeAll
    static void startHdfs() throws Exception {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("hdfs").toString());
        hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        hdfs.waitActive();
    }

    @AfterAll
    static void stopHdfs() {
        if (hdfs != null) {
            hdfs.shutdown();
        }
    }

    private Process start(String checkpoints, Path work, Path out, Path log) throws Exception {
        Files.createDirectories(work);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx384m", "-Donceflow.hadoop.lock.wait.seconds=120", "-cp",
                System.getProperty("java.class.path"), CountJobMain.class.getName(), checkpoints, out.toString(),
                Long.toString(TOTAL), Integer.toString(KEYS), "2", "3000", "rocksdb:" + work.resolve("rocksdb"));
        return new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    @Test
    void sinkFilesAndCommitMarksLiveOnHdfs(@org.junit.jupiter.api.io.TempDir Path scratch) throws Exception {
        String uri = hdfs.getURI() + "/sinks";
        SinkFilesContract.check(CheckpointStorage.fromUri(uri).forJob("job"), () -> CheckpointStorage.fromUri(uri).forJob("job"),
                scratch);
    }

    @Test
    void closingTheStorageReleasesItsFileSystemClient() {
        CheckpointStorage storage = CheckpointStorage.fromUri(hdfs.getURI() + "/closed");
        storage.forJob("job").checkWritable();
        storage.close();
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> storage.forJob("job").checkWritable());
        assertTrue(e.getMessage().contains("Filesystem closed"), e.getMessage());
        // the storage had its own client: another storage of the same cluster still works
        CheckpointStorage.fromUri(hdfs.getURI() + "/closed").forJob("job").checkWritable();
    }

    @Test
    void aSecondOwnerIsRefusedAndATakeOverFencesTheFirst() throws Exception {
        CheckpointStorage storage = CheckpointStorage.fromUri(hdfs.getURI() + "/locks");
        JobCheckpointStore store = storage.forJob("job");
        store.checkWritable();
        Ownership first = store.acquireOwnership(false);
        OwnershipLostException refused = org.junit.jupiter.api.Assertions.assertThrows(OwnershipLostException.class,
                () -> store.acquireOwnership(false));
        assertTrue(refused.getMessage().contains("is already running") && refused.getMessage().contains("pid "
                + ProcessHandle.current().pid()), refused.getMessage());
        Ownership taker = store.acquireOwnership(true);
        taker.verify();
        OwnershipLostException fenced = org.junit.jupiter.api.Assertions.assertThrows(OwnershipLostException.class,
                first::verify);
        assertTrue(fenced.getMessage().contains("Another instance took this job over"), fenced.getMessage());
        taker.release();
        first.release();
    }

    @Test
    void aDeadOwnerOfAnotherMachineIsWaitedForUntilItsLeaseExpires() throws Exception {
        long softLimit = 10_000;
        hdfs.setLeasePeriod(softLimit, 20 * 60_000);
        try {
            CheckpointStorage storage = CheckpointStorage.fromUri(hdfs.getURI() + "/foreign");
            JobCheckpointStore store = storage.forJob("job");
            store.checkWritable();
            Process holder = io.onceflow.testing.ChildJvm.of(HdfsLockHolderMain.class, List.of("-Xmx256m"),
                    hdfs.getURI() + "/foreign/job/_owner/" + FileOwnerLock.LOCK_FILE + ".0",
                    "host=another-machine\npid=1\nstarted=2026-01-01T00:00:00Z\nsince=2026-01-01T00:00:00Z\n")
                    .redirectErrorStream(true).start();
            java.io.BufferedReader lines = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream()));
            String line;
            while ((line = lines.readLine()) != null && !line.equals("held")) {
                // the child's start-up output
            }
            long held = System.nanoTime();
            assertEquals("held", line, "the lock holder started");
            holder.destroyForcibly(); // kill -9: its lease stays until the soft limit passes
            assertTrue(holder.waitFor(30, TimeUnit.SECONDS));

            Ownership mine = store.acquireOwnership(false);
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - held);
            mine.verify();
            // the lease began before the holder said "held": HDFS freed it no earlier than the soft limit after
            assertTrue(waitedMs >= softLimit - 2_000, "a lock of another machine's process is not recovered early "
                    + "(acquired " + waitedMs + " ms after it was held)");
            mine.release();
        } finally {
            hdfs.setLeasePeriod(org.apache.hadoop.hdfs.protocol.HdfsConstants.LEASE_SOFTLIMIT_PERIOD, 20 * 60_000);
        }
    }

    @Test
    void aJobKilledOnOneMachineRestoresFromHdfsAloneOnAnother() throws Exception {
        String checkpoints = hdfs.getURI() + "/checkpoints";
        Path out = base.resolve("out");
        Path log = base.resolve("jobs.log");
        CommittedStore output = CommittedStore.inDirectory(out);

        Process first = start(checkpoints, base.resolve("machine-a"), out, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (output.readAll().size() < TOTAL / 10 && first.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertTrue(first.isAlive(), "the first run ended early:\n" + Files.readString(log));

        Process second = start(checkpoints, base.resolve("machine-b"), out, log);
        assertTrue(second.waitFor(60, TimeUnit.SECONDS), "a second start while the owner lives is refused");
        assertTrue(second.exitValue() != 0 && Files.readString(log).contains("is already running"), Files.readString(log));

        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        long atKill = output.readAll().size();
        try (FileSystem fs = FileSystem.newInstance(hdfs.getURI(), new Configuration())) {
            assertTrue(fs.listStatus(new org.apache.hadoop.fs.Path("/checkpoints/count/shared")).length > 0,
                    "incremental RocksDB files are shared on HDFS");
        }

        Process third = start(checkpoints, base.resolve("machine-c"), out, log);
        assertTrue(third.waitFor(180, TimeUnit.SECONDS), "the restored run finishes:\n" + Files.readString(log));
        String text = Files.readString(log);
        assertEquals(0, third.exitValue(), text);
        assertTrue(text.contains("resumes from checkpoint"), text);
        assertTrue(text.contains("is gone: recovering its HDFS lease now"), "the restart on the killed owner's machine "
                + "does not wait out its lease:\n" + text);
        SequenceChecker.Result result = SequenceChecker.check(output.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "restored from HDFS after kill -9 (" + atKill + " committed then): " + result);
        assertTrue(atKill < TOTAL, "the kill came before the end");
    }
}

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
 * refused by the owner's lease. The restart waits for the dead owner's lease to expire (HDFS's soft
 * limit, a minute): that is how long HDFS takes to notice a writer is gone.
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
        SequenceChecker.Result result = SequenceChecker.check(output.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "restored from HDFS after kill -9 (" + atKill + " committed then): " + result);
        assertTrue(atKill < TOTAL, "the kill came before the end");
    }
}

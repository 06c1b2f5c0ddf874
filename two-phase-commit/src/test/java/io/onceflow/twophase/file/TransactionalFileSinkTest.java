package io.onceflow.twophase.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.StatefulSinkWriter;
import io.onceflow.api.sink.TrackedCommitRequest;
import io.onceflow.api.sink.TrackedCommitRequest.Outcome;
import io.onceflow.twophase.TestSinkContext;
import io.onceflow.twophase.TransactionHolder;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file protocol of {@link TransactionalFileSink}, checked by looking at the directory. */
class TransactionalFileSinkTest {

    @TempDir
    Path dir;

    @Test
    void aCommittedFileAppearsWholeOnlyWhenItsCheckpointCompletes() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("a");
        writer.write("b");

        Collection<TransactionHolder<FileTransaction>> checkpoint7 = writer.prepareCommit(7);

        assertEquals(List.of(), CommittedFiles.committed(dir), "pre-committed is invisible");
        assertEquals(List.of(dir.resolve(".out-0-0-0.inprogress")), CommittedFiles.inProgress(dir));
        assertEquals("a\nb\n", CommittedFiles.content(dir.resolve(".out-0-0-0.inprogress")), "flushed at pre-commit");

        assertAllCommitted(commit(sink, checkpoint7));
        assertEquals(List.of(dir.resolve("out-0-7.txt")), CommittedFiles.all(dir));
        assertEquals(List.of("a", "b"), CommittedFiles.lines(dir));
    }

    @Test
    void emptyTransactionsLeaveNoFileAtAll() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));

        assertEquals(List.of(), writer.prepareCommit(1));
        assertEquals(List.of(), writer.prepareCommit(2));
        writer.flush(true);
        assertEquals(List.of(), writer.prepareCommit(3));
        writer.close();

        assertEquals(List.of(), CommittedFiles.all(dir));
    }

    @Test
    void committingAgainAfterACrashIsHarmless() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("once");
        Collection<TransactionHolder<FileTransaction>> checkpoint1 = writer.prepareCommit(1);
        List<TransactionHolder<FileTransaction>> restored = roundTrip(sink.getCommittableSerializer(), checkpoint1);

        assertAllCommitted(commit(sink, checkpoint1));
        assertAllCommitted(commit(sink, restored));

        assertEquals(List.of(dir.resolve("out-0-1.txt")), CommittedFiles.all(dir));
        assertEquals(List.of("once"), CommittedFiles.lines(dir));
    }

    @Test
    void aCommitNeverOverwritesACommittedFile() throws Exception {
        Writer firstRun = writer(sink("out"), TestSinkContext.fresh(0, 1));
        firstRun.write("first run");
        assertAllCommitted(commit(sink("out"), firstRun.prepareCommit(1)));
        // a second run into the same directory whose checkpoint ids start at 1 again
        TransactionalFileSink<String> secondSink = sink("out");
        Writer secondRun = writer(secondSink, TestSinkContext.fresh(0, 1));
        secondRun.write("second run");

        List<TrackedCommitRequest<TransactionHolder<FileTransaction>>> clash = commit(secondSink, secondRun.prepareCommit(1));

        assertEquals(Outcome.FAILED_UNKNOWN, clash.get(0).outcome(), "fails the job");
        assertInstanceOf(FileAlreadyExistsException.class, clash.get(0).failure());
        assertEquals(List.of("first run"), CommittedFiles.lines(dir));
    }

    @Test
    void aCommitWhoseFileVanishedFailsLoudly() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("x");
        Collection<TransactionHolder<FileTransaction>> checkpoint1 = writer.prepareCommit(1);
        Files.delete(dir.resolve(".out-0-0-0.inprogress"));

        List<TrackedCommitRequest<TransactionHolder<FileTransaction>>> requests = commit(sink, checkpoint1);

        assertEquals(Outcome.FAILED_UNKNOWN, requests.get(0).outcome());
        assertInstanceOf(NoSuchFileException.class, requests.get(0).failure());
    }

    @Test
    void aRestoredCommitReadsTheWholeFileAndRefusesOneChangedSinceItsPreCommit() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("alpha");
        writer.write("beta");
        List<TransactionHolder<FileTransaction>> restored =
                roundTrip(sink.getCommittableSerializer(), writer.prepareCommit(4));
        Path file = dir.resolve(".out-0-0-0.inprogress");
        Files.writeString(file, "alphA\nbeta\n"); // the same length, one byte changed

        List<TrackedCommitRequest<TransactionHolder<FileTransaction>>> requests = commit(sink, restored);

        assertEquals(Outcome.FAILED_UNKNOWN, requests.get(0).outcome());
        NonRecoverableException failure = assertInstanceOf(NonRecoverableException.class, requests.get(0).failure(),
                "a restart would find the same file: the job stops");
        assertTrue(failure.getMessage().contains(file + " (to be committed as out-0-4.txt) was changed on disk"),
                failure.getMessage());
        assertTrue(failure.getMessage().contains("where the sink wrote 11 bytes"), failure.getMessage());
        assertEquals(List.of(), CommittedFiles.committed(dir), "nothing published");
        assertEquals(List.of(file), CommittedFiles.inProgress(dir), "the file is left for a look");
    }

    @Test
    void aCommitInTheSameRunRefusesAFileWhoseLengthChanged() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("x");
        Collection<TransactionHolder<FileTransaction>> checkpoint1 = writer.prepareCommit(1);
        Files.writeString(dir.resolve(".out-0-0-0.inprogress"), "y\n", StandardOpenOption.APPEND);

        List<TrackedCommitRequest<TransactionHolder<FileTransaction>>> requests = commit(sink, checkpoint1);

        assertEquals(Outcome.FAILED_UNKNOWN, requests.get(0).outcome());
        NonRecoverableException failure = assertInstanceOf(NonRecoverableException.class, requests.get(0).failure());
        assertTrue(failure.getMessage().contains("it holds 4 bytes, where the sink wrote 2 bytes"),
                failure.getMessage());
        assertEquals(List.of(), CommittedFiles.committed(dir));
    }

    @Test
    void aTransactionCheckpointedBeforeFilesHadChecksumsStillCommits() throws Exception {
        FileTransactionHandler<String> handler = new FileTransactionHandler<>(dir, s -> s, "out");
        Files.writeString(dir.resolve(".out-0-0-0.inprogress"), "old\n");
        ByteArrayOutputStream version1 = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(version1)) {
            out.writeUTF(".out-0-0-0.inprogress");
            out.writeUTF("out-0");
            out.writeBoolean(true);
            out.writeUTF("out-0-3.txt");
        }

        FileTransaction txn = handler.getTransactionSerializer().deserialize(1, version1.toByteArray());
        handler.recoverAndCommit(txn);

        assertEquals(List.of(dir.resolve("out-0-3.txt")), CommittedFiles.all(dir));
        assertEquals(List.of("old"), CommittedFiles.lines(dir));
    }

    @Test
    void closingAbortsTheOpenTransactionAndDeletesItsFile() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("pre-committed");
        Collection<TransactionHolder<FileTransaction>> checkpoint1 = writer.prepareCommit(1);
        writer.write("open");

        writer.close();

        assertEquals(List.of(dir.resolve(".out-0-0-0.inprogress")), CommittedFiles.all(dir), "only the pre-committed one is left");
        assertAllCommitted(commit(sink, checkpoint1));
        assertEquals(List.of("pre-committed"), CommittedFiles.lines(dir));
    }

    @Test
    void aStartDeletesOnlyItsOwnLingeringInProgressFiles() throws Exception {
        for (String name : List.of(".out-0-3-1.inprogress", ".out-0-0-0.inprogress", ".out-1-3-1.inprogress",
                ".other-0-3-1.inprogress", ".out-0-foo.inprogress", "out-0-3.txt")) {
            Files.writeString(dir.resolve(name), "x\n");
        }

        writer(sink("out"), TestSinkContext.fresh(0, 2));

        assertEquals(List.of(".other-0-3-1.inprogress", ".out-0-foo.inprogress", ".out-1-3-1.inprogress", "out-0-3.txt"),
                CommittedFiles.all(dir).stream().map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void aRestoreAtTheSameParallelismDeletesTheOpenTransactionAndLeftovers() throws Exception {
        TransactionalFileSink<String> sink = sink("out");
        Writer writer = writer(sink, TestSinkContext.fresh(0, 1));
        writer.write("a");
        List<TransactionHolder<FileTransaction>> checkpoint1 = roundTrip(sink.getCommittableSerializer(),
                writer.prepareCommit(1));
        List<TransactionHolder<FileTransaction>> state = roundTrip(sink.getWriterStateSerializer(),
                writer.snapshotState(1));
        writer.write("b");                   // into the open transaction, after checkpoint 1
        writer.prepareCommit(2);              // pre-committed for checkpoint 2, which never completes
        writer.write("c");
        writer.prepareCommit(3);
        // crash; restore from checkpoint 1
        SinkInitContext restoredContext = TestSinkContext.restored(0, 1, 1);
        assertAllCommitted(TrackedCommitRequest.commit(sink.createCommitter(restoredContext), checkpoint1));

        sink.restoreWriter(restoredContext, state);

        assertEquals(List.of(dir.resolve("out-0-1.txt")), CommittedFiles.all(dir));
        assertEquals(List.of("a"), CommittedFiles.lines(dir));
    }

    @Test
    void aRecordThatIsNotOneLineFailsWithAClearMessage() throws Exception {
        Writer writer = writer(sink("out"), TestSinkContext.fresh(0, 1));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> writer.write("two\nlines"));

        assertTrue(e.getMessage().contains("every record must become exactly one line"), e.getMessage());
    }

    @Test
    void theDefaultPrefixIsTheOperatorUid() throws Exception {
        TransactionalFileSink<String> sink = TransactionalFileSink.builder(dir, (String s) -> s).build();
        SinkInitContext context = new TestSinkContext("job", "my-sink", 2, 3, 0, OptionalLong.empty());
        Writer writer = writer(sink, context);
        writer.write("x");
        assertAllCommitted(TrackedCommitRequest.commit(sink.createCommitter(context), writer.prepareCommit(4)));

        assertEquals(List.of(dir.resolve("my-sink-2-4.txt")), CommittedFiles.all(dir));

        SinkInitContext badUid = new TestSinkContext("job", "a/b", 0, 1, 0, OptionalLong.empty());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sink.createWriter(badUid));
        assertTrue(e.getMessage().contains("filePrefix"), e.getMessage());
    }

    @Test
    void theBuilderRejectsWhatCannotWork() throws Exception {
        TransactionalFileSink.Builder<String> builder = TransactionalFileSink.builder(dir, (String s) -> s);
        assertThrows(IllegalArgumentException.class, () -> builder.filePrefix(".hidden"));
        assertThrows(IllegalArgumentException.class, () -> builder.filePrefix("a/b"));
        builder.filePrefix("ok");
        assertThrows(IllegalStateException.class, () -> builder.filePrefix("again"));
        Path aFile = Files.writeString(dir.resolve("not-a-directory"), "");
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> TransactionalFileSink.builder(aFile.resolve("sub"), (String s) -> s).build());
        assertTrue(e.getMessage().contains(aFile.resolve("sub").toString()), e.getMessage());
    }

    // ------------------------------------------------------------------ helpers

    /** The writer as the runtime sees it. */
    interface Writer extends CommittingSinkWriter<String, TransactionHolder<FileTransaction>>,
            StatefulSinkWriter<String, TransactionHolder<FileTransaction>> {
    }

    private TransactionalFileSink<String> sink(String prefix) {
        return TransactionalFileSink.builder(dir, (String s) -> s).filePrefix(prefix).build();
    }

    @SuppressWarnings("unchecked")
    static Writer writer(TransactionalFileSink<String> sink, SinkInitContext context) throws Exception {
        Object w = sink.createWriter(context);
        CommittingSinkWriter<String, TransactionHolder<FileTransaction>> committing =
                (CommittingSinkWriter<String, TransactionHolder<FileTransaction>>) w;
        StatefulSinkWriter<String, TransactionHolder<FileTransaction>> stateful =
                (StatefulSinkWriter<String, TransactionHolder<FileTransaction>>) w;
        return new Writer() {
            @Override
            public void write(String element) throws Exception {
                committing.write(element);
            }

            @Override
            public void flush(boolean endOfInput) throws Exception {
                committing.flush(endOfInput);
            }

            @Override
            public Collection<TransactionHolder<FileTransaction>> prepareCommit(long checkpointId) throws Exception {
                return committing.prepareCommit(checkpointId);
            }

            @Override
            public List<TransactionHolder<FileTransaction>> snapshotState(long checkpointId) throws Exception {
                return stateful.snapshotState(checkpointId);
            }

            @Override
            public void close() throws Exception {
                committing.close();
            }
        };
    }

    private static List<TrackedCommitRequest<TransactionHolder<FileTransaction>>> commit(
            TransactionalFileSink<String> sink, Collection<TransactionHolder<FileTransaction>> committables) throws Exception {
        Committer<TransactionHolder<FileTransaction>> committer = sink.createCommitter(TestSinkContext.fresh(0, 1));
        return TrackedCommitRequest.commit(committer, committables);
    }

    static <T> List<T> roundTrip(VersionedSerializer<T> serializer, Collection<T> values) throws Exception {
        List<T> copies = new ArrayList<>();
        for (T v : values) {
            copies.add(serializer.deserialize(serializer.getVersion(), serializer.serialize(v)));
        }
        return copies;
    }

    private static void assertAllCommitted(List<? extends TrackedCommitRequest<?>> requests) {
        for (TrackedCommitRequest<?> r : requests) {
            assertEquals(Outcome.COMMITTED, r.outcome(), () -> "request " + r.getCommittable() + ": " + r.failure());
        }
    }
}

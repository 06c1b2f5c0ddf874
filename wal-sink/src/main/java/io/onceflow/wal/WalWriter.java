package io.onceflow.wal;

import io.onceflow.api.metrics.Counter;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.CheckpointFiles;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.SinkInitContext;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * Appends every record to a local spill file; at a barrier, uploads the file into checkpoint storage and
 * hands it on as the checkpoint's {@link WalBatch}. Memory use does not grow with the batch.
 */
final class WalWriter<T> implements CommittingSinkWriter<T, WalBatch> {
    private final TypeSerializer<T> serializer;
    private final Path spillDirectory;
    private final CheckpointFiles files;
    private final String operatorUid;
    private final int subtask;
    private final Counter spilled;
    private Path spill;
    private DataOutputStream out;
    /** The CRC-32C of the spill file's bytes, kept as they are written. */
    private CheckedOutputStream checked;
    private long records;

    WalWriter(SinkInitContext context, TypeSerializer<T> serializer, Path spillDirectory) {
        this.serializer = serializer;
        this.spillDirectory = spillDirectory;
        this.files = context.getCheckpointFiles();
        this.operatorUid = context.getOperatorUid();
        this.subtask = context.getIndexOfSubtask();
        this.spilled = context.getMetricGroup().counter("walRecordsSpilled");
    }

    @Override
    public void write(T element) throws Exception {
        if (out == null) {
            Files.createDirectories(spillDirectory);
            spill = Files.createTempFile(spillDirectory, "wal-" + subtask + "-", ".spill");
            checked = new CheckedOutputStream(Files.newOutputStream(spill), new CRC32C());
            out = new DataOutputStream(new BufferedOutputStream(checked, 64 * 1024));
        }
        serializer.serialize(element, out);
        records++;
        spilled.inc();
    }

    @Override
    public Collection<WalBatch> prepareCommit(long checkpointId) throws Exception {
        if (out == null) {
            return List.of();
        }
        out.close();
        out = null;
        try {
            String name = "wal-" + operatorUid + "-" + subtask + "-" + checkpointId + "-"
                    + UUID.randomUUID().toString().substring(0, 8);
            CheckpointFiles.CheckpointFile file = files.upload(name, spill);
            return List.of(new WalBatch(checkpointId, subtask, records, file, checked.getChecksum().getValue()));
        } finally {
            Files.deleteIfExists(spill);
            spill = null;
            records = 0;
        }
    }

    @Override
    public void close() throws IOException {
        if (out != null) {
            out.close();
            out = null;
        }
        if (spill != null) {
            Files.deleteIfExists(spill);
            spill = null;
        }
    }
}

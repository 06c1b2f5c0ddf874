package io.onceflow.wal;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.CheckpointFiles;
import io.onceflow.api.sink.ReferencesCheckpointFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * The committable of a write-ahead sink: the records one writer subtask received before the barrier of
 * checkpoint {@code checkpointId}, in a file in checkpoint storage.
 */
public record WalBatch(long checkpointId, int subtask, long records, CheckpointFiles.CheckpointFile file)
        implements ReferencesCheckpointFiles {

    @Override
    public List<CheckpointFiles.CheckpointFile> checkpointFiles() {
        return List.of(file);
    }

    /** Version 1: checkpoint id, subtask, record count, file path, file size. */
    static final class Serializer implements VersionedSerializer<WalBatch> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(WalBatch batch) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeLong(batch.checkpointId());
                out.writeInt(batch.subtask());
                out.writeLong(batch.records());
                out.writeUTF(batch.file().path());
                out.writeLong(batch.file().size());
            }
            return bytes.toByteArray();
        }

        @Override
        public WalBatch deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("A write-ahead batch of version " + version + " is newer than this Onceflow "
                        + "reads (1): restore with the version that wrote the checkpoint");
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                long checkpointId = in.readLong();
                int subtask = in.readInt();
                long records = in.readLong();
                return new WalBatch(checkpointId, subtask, records, new CheckpointFiles.CheckpointFile(in.readUTF(),
                        in.readLong()));
            }
        }
    }
}

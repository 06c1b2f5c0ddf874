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
 * checkpoint {@code checkpointId}, in a file in checkpoint storage, with the CRC-32C of the file's bytes
 * ({@code checksum}; {@link #NO_CHECKSUM} for batches of checkpoints written before there was one).
 */
public record WalBatch(long checkpointId, int subtask, long records, CheckpointFiles.CheckpointFile file, long checksum)
        implements ReferencesCheckpointFiles {

    /** The checksum of a batch written before batches had one: its file is read unchecked. */
    public static final long NO_CHECKSUM = -1;

    @Override
    public List<CheckpointFiles.CheckpointFile> checkpointFiles() {
        return List.of(file);
    }

    /** Version 2: checkpoint id, subtask, record count, file path, file size, checksum (version 1: without it). */
    static final class Serializer implements VersionedSerializer<WalBatch> {
        @Override
        public int getVersion() {
            return 2;
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
                out.writeLong(batch.checksum());
            }
            return bytes.toByteArray();
        }

        @Override
        public WalBatch deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1 && version != 2) {
                throw new IOException("A write-ahead batch of version " + version + " is newer than this Onceflow "
                        + "reads (1 and 2): restore with the version that wrote the checkpoint");
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                long checkpointId = in.readLong();
                int subtask = in.readInt();
                long records = in.readLong();
                CheckpointFiles.CheckpointFile file = new CheckpointFiles.CheckpointFile(in.readUTF(), in.readLong());
                return new WalBatch(checkpointId, subtask, records, file, version >= 2 ? in.readLong() : NO_CHECKSUM);
            }
        }
    }
}

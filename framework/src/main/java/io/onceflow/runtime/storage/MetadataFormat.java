package io.onceflow.runtime.storage;

import io.onceflow.runtime.state.Bytes;
import io.onceflow.runtime.state.KeyGroupRange;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The binary form of a checkpoint's {@code _metadata}:
 *
 * <pre>
 * int magic 0x4F464D44 ("OFMD"), int version (3; versions 1 and 2 are still read)
 * UTF job name, long checkpoint id, long timestamp
 * int operators; per operator: UTF uid, int parallelism, int max parallelism, int subtasks;
 *   per subtask: int index, int key-group start, int key-group end,
 *                byte handle kind (0 none, 1 inline, 2 file) then bytes | UTF path + long size,
 *                int shared files (version 2), then (UTF path + long size)*
 * int CRC-32C of every byte before it (version 3)
 * </pre>
 *
 * The checksum finds a file changed in storage, which would otherwise restore state read wrong: small
 * state (a source's offsets) is held inside the metadata.
 */
public final class MetadataFormat {

    public static final int MAGIC = 0x4F464D44;
    public static final int VERSION = 3;

    private MetadataFormat() {
    }

    public static byte[] write(CheckpointMetadata metadata) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
        UnsynchronizedBufferedOutputStream buffer = new UnsynchronizedBufferedOutputStream(bytes, 8192);
        DataOutputStream out = new DataOutputStream(buffer);
        out.writeInt(MAGIC);
        out.writeInt(VERSION);
        out.writeUTF(metadata.jobName());
        out.writeLong(metadata.checkpointId());
        out.writeLong(metadata.timestamp());
        out.writeInt(metadata.operators().size());
        for (CheckpointMetadata.OperatorState op : metadata.operators().values()) {
            out.writeUTF(op.uid());
            out.writeInt(op.parallelism());
            out.writeInt(op.maxParallelism());
            out.writeInt(op.subtasks().size());
            for (CheckpointMetadata.SubtaskState s : op.subtasks()) {
                out.writeInt(s.subtaskIndex());
                out.writeInt(s.keyGroups().start());
                out.writeInt(s.keyGroups().end());
                if (s.handle() == null) {
                    out.writeByte(0);
                } else if (s.handle() instanceof StateHandle.Inline inline) {
                    out.writeByte(1);
                    Bytes.writeBytes(out, inline.data());
                } else if (s.handle() instanceof StateHandle.InFile file) {
                    out.writeByte(2);
                    out.writeUTF(file.path());
                    out.writeLong(file.size());
                }
                out.writeInt(s.sharedFiles().size());
                for (StateHandle.InFile f : s.sharedFiles()) {
                    out.writeUTF(f.path());
                    out.writeLong(f.size());
                }
            }
        }
        buffer.writeChecksum();
        out.flush();
        return bytes.toByteArray();
    }

    /** @param where names the metadata in error messages */
    public static CheckpointMetadata read(byte[] data, String where) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new IOException(where + " is not an Onceflow checkpoint metadata file (bad magic number)");
        }
        int version = in.readInt();
        if (version < 1 || version > VERSION) {
            throw new IOException(where + " has metadata format version " + version + ", but this Onceflow reads "
                    + "versions 1 to " + VERSION + " only: restore it with the Onceflow version that wrote it, or "
                    + "start the job fresh (resumeFromLatestCheckpoint=false)");
        }
        if (version >= 3) {
            verifyChecksum(data, where);
        }
        String jobName = in.readUTF();
        long id = in.readLong();
        long timestamp = in.readLong();
        int numOps = in.readInt();
        Map<String, CheckpointMetadata.OperatorState> ops = new LinkedHashMap<>();
        for (int i = 0; i < numOps; i++) {
            String uid = in.readUTF();
            int parallelism = in.readInt();
            int maxParallelism = in.readInt();
            int numSubtasks = in.readInt();
            List<CheckpointMetadata.SubtaskState> subtasks = new ArrayList<>(numSubtasks);
            for (int j = 0; j < numSubtasks; j++) {
                int index = in.readInt();
                KeyGroupRange range = new KeyGroupRange(in.readInt(), in.readInt());
                int kind = in.readByte();
                StateHandle handle = switch (kind) {
                    case 0 -> null;
                    case 1 -> new StateHandle.Inline(Bytes.readBytes(in));
                    case 2 -> new StateHandle.InFile(in.readUTF(), in.readLong());
                    default -> throw new IOException(where + " is corrupt: unknown state handle kind " + kind);
                };
                List<StateHandle.InFile> shared = new ArrayList<>();
                if (version >= 2) {
                    int numShared = in.readInt();
                    for (int k = 0; k < numShared; k++) {
                        shared.add(new StateHandle.InFile(in.readUTF(), in.readLong()));
                    }
                }
                subtasks.add(new CheckpointMetadata.SubtaskState(index, range, handle, shared, 0));
            }
            ops.put(uid, new CheckpointMetadata.OperatorState(uid, parallelism, maxParallelism, subtasks));
        }
        return new CheckpointMetadata(jobName, id, timestamp, ops);
    }

    private static void verifyChecksum(byte[] data, String where) throws IOException {
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - 4);
        int computed = (int) crc.getValue();
        int stored = ByteBuffer.wrap(data, data.length - 4, 4).getInt();
        if (computed != stored) {
            throw ChecksummedInputStream.damaged(where, computed, stored);
        }
    }
}

package io.onceflow.runtime.state;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The binary form of one operator subtask's state in a checkpoint:
 *
 * <pre>
 * int   magic 0x4F465354 ("OFST")
 * int   format version (1)
 * ...   operator list state   ({@link OperatorStateBackend#snapshot})
 * bool  has keyed state
 * ...   keyed state           ({@link HeapKeyedStateBackend#snapshot})
 * </pre>
 */
public final class SubtaskStateFormat {

    public static final int MAGIC = 0x4F465354;
    public static final int VERSION = 1;

    private SubtaskStateFormat() {
    }

    public static byte[] write(OperatorStateBackend operatorState, HeapKeyedStateBackend keyedState) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(MAGIC);
        out.writeInt(VERSION);
        operatorState.snapshot(out);
        out.writeBoolean(keyedState != null);
        if (keyedState != null) {
            keyedState.snapshot(out);
        }
        out.flush();
        return bytes.toByteArray();
    }

    /**
     * Reads one subtask's state, adding its operator lists to {@code operatorLists} and the keyed
     * entries within {@code keyGroups} to {@code keyed}.
     *
     * @param what names the state in error messages (operator uid, subtask, checkpoint)
     * @return the max parallelism the keyed state was written with, or -1 without keyed state
     */
    public static int read(byte[] data, String what, Map<String, List<byte[]>> operatorLists,
                           KeyGroupRange keyGroups, Map<String, RestoredKeyedState> keyed) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new IOException("State of " + what + " is not Onceflow state data (bad magic number "
                    + Integer.toHexString(magic) + "): the checkpoint is corrupt");
        }
        int version = in.readInt();
        if (version != VERSION) {
            throw new IOException("State of " + what + " has format version " + version
                    + ", but this Onceflow reads version " + VERSION + " only: restore it with the Onceflow "
                    + "version that wrote it, or start the job fresh (resumeFromLatestCheckpoint=false)");
        }
        Map<String, List<byte[]>> lists = OperatorStateBackend.read(in);
        for (Map.Entry<String, List<byte[]>> e : lists.entrySet()) {
            operatorLists.computeIfAbsent(e.getKey(), k -> new java.util.ArrayList<>()).addAll(e.getValue());
        }
        if (in.readBoolean()) {
            return HeapKeyedStateBackend.read(in, keyGroups, keyed);
        }
        return -1;
    }
}

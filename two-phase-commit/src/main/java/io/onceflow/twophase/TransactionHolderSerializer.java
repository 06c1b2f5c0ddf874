package io.onceflow.twophase;

import io.onceflow.api.serialization.VersionedSerializer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * Writes a {@link TransactionHolder} into a checkpoint around the handler's own versioned form of the
 * handle. Every holder read back is marked {@linkplain TransactionHolder#isRecovered() recovered}:
 * the runtime keeps the live objects of its own process, so a holder is only ever deserialized when
 * a checkpoint is restored.
 *
 * <p>Version 1: state code (byte), subtask (int), parallelism (int), checkpoint id (long), started-at
 * millis (long), records (long), handle version (int), handle length (int) and bytes.
 */
final class TransactionHolderSerializer<TXN> implements VersionedSerializer<TransactionHolder<TXN>> {

    private static final byte OPEN = 'O';
    private static final byte PRE_COMMITTED = 'P';

    private final VersionedSerializer<TXN> handleSerializer;

    TransactionHolderSerializer(VersionedSerializer<TXN> handleSerializer) {
        this.handleSerializer = handleSerializer;
    }

    @Override
    public int getVersion() {
        return 1;
    }

    @Override
    public byte[] serialize(TransactionHolder<TXN> holder) throws IOException {
        byte code = switch (holder.state()) {
            case OPEN -> OPEN;
            case PRE_COMMITTED -> PRE_COMMITTED;
            // the sink only checkpoints open and pre-committed transactions
            case COMMITTED, ABORTED -> throw new IllegalStateException(
                    "A " + holder.state() + " transaction does not belong in a checkpoint: " + holder);
        };
        byte[] handle = handleSerializer.serialize(holder.handle());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(handle.length + 48);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte(code);
        out.writeInt(holder.subtaskIndex());
        out.writeInt(holder.parallelism());
        out.writeLong(holder.checkpointId());
        out.writeLong(holder.startedAtMillis());
        out.writeLong(holder.records());
        out.writeInt(handleSerializer.getVersion());
        out.writeInt(handle.length);
        out.write(handle);
        out.flush();
        return bytes.toByteArray();
    }

    @Override
    public TransactionHolder<TXN> deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1) {
            throw new IOException("Cannot read a two-phase-commit transaction of format version " + version
                    + ": this version of Onceflow reads version 1 only");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
        byte code = in.readByte();
        TransactionState state = switch (code) {
            case OPEN -> TransactionState.OPEN;
            case PRE_COMMITTED -> TransactionState.PRE_COMMITTED;
            default -> throw new IOException("Unknown transaction state code " + code + " in checkpoint data");
        };
        int subtask = in.readInt();
        int parallelism = in.readInt();
        long checkpointId = in.readLong();
        long startedAt = in.readLong();
        long records = in.readLong();
        int handleVersion = in.readInt();
        byte[] handle = new byte[in.readInt()];
        in.readFully(handle);
        return new TransactionHolder<>(handleSerializer.deserialize(handleVersion, handle), state, subtask,
                parallelism, checkpointId, startedAt, records, true);
    }
}

package io.onceflow.kafka.sink;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.kafka.sink.internal.ResumableTransaction;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * One Kafka transaction of an EXACTLY_ONCE sink: its transactional id, and once pre-committed the
 * producer id, epoch and protocol version a later process needs to commit it. While the transaction's
 * own producer is alive in this process it is kept here (never written into a checkpoint).
 */
final class KafkaTransaction {

    final String transactionalId;
    transient TransactionalProducer producer;
    ResumableTransaction resumable;

    KafkaTransaction(String transactionalId, TransactionalProducer producer, ResumableTransaction resumable) {
        this.transactionalId = transactionalId;
        this.producer = producer;
        this.resumable = resumable;
    }

    @Override
    public String toString() {
        return resumable != null ? resumable.toString() : "open transaction on " + transactionalId;
    }

    /** Version 1: id (UTF), pre-committed flag, then producer id (long), epoch (short), transactions v2 (bool). */
    static final class Serializer implements VersionedSerializer<KafkaTransaction> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(KafkaTransaction t) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeUTF(t.transactionalId);
            out.writeBoolean(t.resumable != null);
            if (t.resumable != null) {
                out.writeLong(t.resumable.producerId());
                out.writeShort(t.resumable.epoch());
                out.writeBoolean(t.resumable.transactionV2());
            }
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public KafkaTransaction deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("A Kafka transaction of format version " + version + " cannot be read by this "
                        + "Onceflow (it reads version 1): restore with the version that wrote the checkpoint");
            }
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
            String id = in.readUTF();
            ResumableTransaction r = null;
            if (in.readBoolean()) {
                r = new ResumableTransaction(id, in.readLong(), in.readShort(), in.readBoolean());
            }
            return new KafkaTransaction(id, null, r);
        }
    }
}

package io.onceflow.kafka.source;

import io.onceflow.api.serialization.VersionedSerializer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.apache.kafka.common.Uuid;

/**
 * Version 2: topic (UTF), partition (int), next offset (long), stopping offset (long), whether the topic's id is known
 * (boolean) and if so the id (two longs: most, then least significant bits). Version 1, read still, ends after the
 * stopping offset: its splits' topic ids are not known.
 */
final class KafkaPartitionSplitSerializer implements VersionedSerializer<KafkaPartitionSplit> {

    static final KafkaPartitionSplitSerializer INSTANCE = new KafkaPartitionSplitSerializer();

    @Override
    public int getVersion() {
        return 2;
    }

    @Override
    public byte[] serialize(KafkaPartitionSplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(split.topic());
        out.writeInt(split.partition());
        out.writeLong(split.nextOffset());
        out.writeLong(split.stoppingOffset());
        out.writeBoolean(split.topicId() != null);
        if (split.topicId() != null) {
            out.writeLong(split.topicId().getMostSignificantBits());
            out.writeLong(split.topicId().getLeastSignificantBits());
        }
        out.flush();
        return bytes.toByteArray();
    }

    @Override
    public KafkaPartitionSplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1 && version != 2) {
            throw new IOException("Kafka partition split of version " + version + " cannot be read by this Onceflow "
                    + "(it reads versions 1 and 2): restore with the version that wrote the checkpoint or start fresh");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
        String topic = in.readUTF();
        int partition = in.readInt();
        long next = in.readLong();
        long stop = in.readLong();
        Uuid topicId = version >= 2 && in.readBoolean() ? new Uuid(in.readLong(), in.readLong()) : null;
        return new KafkaPartitionSplit(topic, partition, next, stop, topicId);
    }
}

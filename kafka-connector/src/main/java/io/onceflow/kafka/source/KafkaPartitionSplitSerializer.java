package io.onceflow.kafka.source;

import io.onceflow.api.serialization.VersionedSerializer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** Version 1: topic (UTF), partition (int), next offset (long), stopping offset (long). */
final class KafkaPartitionSplitSerializer implements VersionedSerializer<KafkaPartitionSplit> {

    static final KafkaPartitionSplitSerializer INSTANCE = new KafkaPartitionSplitSerializer();

    @Override
    public int getVersion() {
        return 1;
    }

    @Override
    public byte[] serialize(KafkaPartitionSplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(split.topic());
        out.writeInt(split.partition());
        out.writeLong(split.nextOffset());
        out.writeLong(split.stoppingOffset());
        out.flush();
        return bytes.toByteArray();
    }

    @Override
    public KafkaPartitionSplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1) {
            throw new IOException("Kafka partition split of version " + version + " cannot be read by this Onceflow "
                    + "(it reads version 1): restore with the version that wrote the checkpoint or start fresh");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
        return new KafkaPartitionSplit(in.readUTF(), in.readInt(), in.readLong(), in.readLong());
    }
}

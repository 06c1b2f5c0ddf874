package io.onceflow.kafka.sink.internal;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * Puts a broker's partition in the state a dropped transaction marker leaves behind: records of a producer's
 * transaction open in a partition its transaction coordinator does not know about, so that ending the transaction
 * writes no marker there. The records go straight to the partition leader in a produce request of the version
 * before transactions v2 (the broker then adds no partition to the transaction itself) to a broker started with
 * {@code transaction.partition.verification.enable=false} (it then does not ask the coordinator either).
 * Test code: the state is the subject's input, the broker is real.
 */
public final class StrayTransactionalBatch {
    private StrayTransactionalBatch() {
    }

    /**
     * Appends {@code values} as one batch of the transaction of {@code transactionalId} ({@code producerId} at
     * {@code epoch}), sequence {@code baseSequence}, to {@code partition} on the broker at {@code hostPort} (its
     * leader).
     *
     * @return the offset of the batch's first record
     */
    public static long append(String hostPort, TopicPartition partition, String transactionalId, long producerId,
                       short epoch, int baseSequence, List<String> values) throws IOException {
        SimpleRecord[] records = values.stream()
                .map(v -> new SimpleRecord(null, v.getBytes(StandardCharsets.UTF_8)))
                .toArray(SimpleRecord[]::new);
        MemoryRecords batch = MemoryRecords.withTransactionalRecords(Compression.NONE, producerId, epoch,
                baseSequence, records);
        ProduceRequestData.TopicProduceDataCollection topics = new ProduceRequestData.TopicProduceDataCollection();
        topics.add(new ProduceRequestData.TopicProduceData().setName(partition.topic())
                .setPartitionData(List.of(new ProduceRequestData.PartitionProduceData()
                        .setIndex(partition.partition()).setRecords(batch))));
        short version = ProduceRequest.LAST_STABLE_VERSION_BEFORE_TRANSACTION_V2;
        ProduceRequest request = new ProduceRequest.Builder(version, version, new ProduceRequestData()
                .setTransactionalId(transactionalId).setAcks((short) -1).setTimeoutMs(10_000).setTopicData(topics)).build(version);
        RequestHeader header = new RequestHeader(ApiKeys.PRODUCE, version, "stray-transactional-batch", 1);
        ByteBuffer bytes = request.serializeWithHeader(header);

        int colon = hostPort.lastIndexOf(':');
        try (Socket socket = new Socket(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)))) {
            socket.setSoTimeout(15_000);
            OutputStream out = socket.getOutputStream();
            out.write(ByteBuffer.allocate(4).putInt(bytes.remaining()).array());
            byte[] body = new byte[bytes.remaining()];
            bytes.get(body);
            out.write(body);
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] response = new byte[in.readInt()];
            in.readFully(response);
            ProduceResponse parsed = (ProduceResponse) AbstractResponse.parseResponse(ByteBuffer.wrap(response), header);
            ProduceResponseData.PartitionProduceResponse result = parsed.data().responses().iterator().next()
                    .partitionResponses().get(0);
            Errors error = Errors.forCode(result.errorCode());
            if (error != Errors.NONE) {
                throw error.exception("appending a stray transactional batch to " + partition + " failed: "
                        + error + " " + result.errorMessage());
            }
            return result.baseOffset();
        }
    }
}

package io.onceflow.kafka.sink.internal;

import java.nio.charset.StandardCharsets;
import java.util.Properties;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Child JVM for the crash tests: commits some transactions on one transactional id (each bumps the epoch under
 * transactions v2), then begins one more, writes to partitions 0 and 1, pre-commits it, prints
 * {@code RESUMABLE <transactionalId> <producerId> <epoch> <v2>} and waits to be killed before committing.
 *
 * <pre>PreCommitThenHangMain bootstrap topic transactionalId committedTransactions recordsPerTransaction</pre>
 *
 * Record values are {@code t<transaction>-r<record>}.
 */
public final class PreCommitThenHangMain {
    static final String LINE_PREFIX = "RESUMABLE ";

    private PreCommitThenHangMain() {
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        String transactionalId = args[2];
        int committed = Integer.parseInt(args[3]);
        int perTransaction = Integer.parseInt(args[4]);
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        TransactionalProducer producer = TransactionalProducer.create(transactionalId, props);
        for (int t = 0; t <= committed; t++) {
            producer.beginTransaction();
            for (int r = 0; r < perTransaction; r++) {
                producer.send(new ProducerRecord<>(topic, r % 2, null,
                        ("t" + t + "-r" + r).getBytes(StandardCharsets.UTF_8)));
            }
            if (t < committed) {
                producer.commitTransaction();
            }
        }
        ResumableTransaction rt = producer.preCommit();
        System.out.println(LINE_PREFIX + rt.transactionalId() + " " + rt.producerId() + " " + rt.epoch() + " "
                + rt.transactionV2());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE); // killed here, between pre-commit and commit
    }

    static ResumableTransaction parse(String line) {
        String[] f = line.substring(LINE_PREFIX.length()).trim().split(" ");
        return new ResumableTransaction(f[0], Long.parseLong(f[1]), Short.parseShort(f[2]), Boolean.parseBoolean(f[3]));
    }
}

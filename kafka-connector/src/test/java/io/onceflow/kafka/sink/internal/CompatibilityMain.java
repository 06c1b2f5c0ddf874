package io.onceflow.kafka.sink.internal;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Child JVM for {@code TransactionalProducerTest#worksWithAnotherKafkaClientsVersion}: runs the adapter on
 * whatever kafka-clients is on its classpath and prints one line per step ({@code VERSION}, {@code VERIFY},
 * {@code PRECOMMITTED}, {@code RESUME1}, {@code RESUME2}, {@code ABORTED}). Records of the resumed transaction
 * are {@code compat-<i>} on partition {@code i % 2}.
 *
 * <pre>CompatibilityMain bootstrap topic prefix</pre>
 */
public final class CompatibilityMain {
    private CompatibilityMain() {
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        String prefix = args[2];
        System.out.println("VERSION " + ProducerInternals.kafkaClientsVersion());
        try {
            ProducerInternals.verify();
            System.out.println("VERIFY ok");
        } catch (UnsupportedKafkaClientsException e) {
            System.out.println("VERIFY failed: " + e.getMessage());
            System.exit(3);
        }
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        TransactionalProducer p = TransactionalProducer.create(prefix + "-0-0", props);
        for (int t = 0; t < 3; t++) {
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, t % 2, null, ("before-" + t).getBytes(StandardCharsets.UTF_8)));
            p.commitTransaction();
        }
        p.beginTransaction();
        for (int i = 0; i < 4; i++) {
            p.send(new ProducerRecord<>(topic, i % 2, null, ("compat-" + i).getBytes(StandardCharsets.UTF_8)));
        }
        ResumableTransaction rt = p.preCommit();
        System.out.println("PRECOMMITTED " + rt);
        p.close(); // pre-committed: left open
        System.out.println("RESUME1 " + TransactionalProducer.resumeAndCommit(rt, props).outcome());
        System.out.println("RESUME2 " + TransactionalProducer.resumeAndCommit(rt, props).outcome());

        TransactionalProducer lingering = TransactionalProducer.create(prefix + "-0-1", props);
        lingering.beginTransaction();
        lingering.send(new ProducerRecord<>(topic, 0, null, "lingering".getBytes(StandardCharsets.UTF_8)));
        lingering.flush();
        try (Admin admin = Admin.create(TransactionalProducer.adminProperties(props))) {
            System.out.println("ABORTED " + new LingeringTransactionAborter(props, admin).abortLingering(prefix, 0,
                    Set.of()));
        }
        lingering.close(java.time.Duration.ZERO);
        System.out.flush();
        System.exit(0);
    }
}

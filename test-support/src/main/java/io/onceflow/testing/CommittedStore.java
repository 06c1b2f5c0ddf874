package io.onceflow.testing;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Where {@link TransactionalTestSink} commits: transactions by id, each committed at most once
 * (committing an id twice is a no-op, as a real transactional system's idempotent commit). Read back
 * by tests with {@link #readAll()}, independently of the job.
 */
public interface CommittedStore {

    /** Commits a transaction; returns false when it was already committed. */
    boolean commit(String transactionId, List<String> records) throws IOException;

    /** Every committed record, in no particular order across transactions. */
    List<String> readAll() throws IOException;

    /** A store in this JVM's memory. */
    static CommittedStore inMemory() {
        return new CommittedStore() {
            private final Map<String, List<String>> committed = new ConcurrentHashMap<>();

            @Override
            public boolean commit(String transactionId, List<String> records) {
                return committed.putIfAbsent(transactionId, List.copyOf(records)) == null;
            }

            @Override
            public List<String> readAll() {
                List<String> all = new ArrayList<>();
                committed.values().forEach(all::addAll);
                return all;
            }
        };
    }

    /**
     * A store in a directory: each transaction is a file {@code <id>.txt}, written to a temporary file,
     * fsynced and renamed atomically, so it survives {@code kill -9} and appears whole or not at all.
     */
    static CommittedStore inDirectory(Path dir) {
        return new CommittedStore() {
            @Override
            public boolean commit(String transactionId, List<String> records) throws IOException {
                Files.createDirectories(dir);
                Path target = dir.resolve(transactionId + ".txt");
                if (Files.exists(target)) {
                    return false;
                }
                Path tmp = dir.resolve(transactionId + ".tmp");
                byte[] data = (String.join("\n", records) + (records.isEmpty() ? "" : "\n")).getBytes(StandardCharsets.UTF_8);
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(data);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    ch.force(true);
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                return true;
            }

            @Override
            public List<String> readAll() throws IOException {
                List<String> all = new ArrayList<>();
                if (!Files.isDirectory(dir)) {
                    return all;
                }
                try (Stream<Path> files = Files.list(dir)) {
                    for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".txt")).sorted()::iterator) {
                        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                            if (!line.isEmpty()) {
                                all.add(line);
                            }
                        }
                    }
                }
                return all;
            }
        };
    }
}

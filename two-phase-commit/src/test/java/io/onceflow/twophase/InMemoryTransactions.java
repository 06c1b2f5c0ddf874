package io.onceflow.twophase;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A fake transactional system in memory, and its {@link TransactionHandler}: transactions by name,
 * records visible only once committed, commit idempotent, every call logged. The handle is the
 * transaction's name, as with a real system where the data lives on the server.
 */
final class InMemoryTransactions implements TransactionHandler<String, String> {

    /** Open or prepared transactions: name → records. */
    final Map<String, List<String>> uncommitted = new LinkedHashMap<>();
    final List<String> prepared = new ArrayList<>();
    /** What a reader sees: committed transactions in commit order. */
    final Map<String, List<String>> committed = new LinkedHashMap<>();
    /** Every handler call, as {@code "<method> <transaction>"}. */
    final List<String> calls = new ArrayList<>();
    /** When set, every commit throws it. */
    RuntimeException commitFailure;
    /** When set, every begin throws it (the system cannot be reached). */
    RuntimeException beginFailure;

    /** Every committed record, in commit order. */
    List<String> visible() {
        List<String> all = new ArrayList<>();
        committed.values().forEach(all::addAll);
        return all;
    }

    List<String> callsTo(String method) {
        return calls.stream().filter(c -> c.startsWith(method + " ")).map(c -> c.substring(method.length() + 1)).toList();
    }

    @Override
    public String beginTransaction(TransactionContext context) {
        if (beginFailure != null) {
            throw beginFailure;
        }
        String name = "t" + context.transactionName();
        calls.add("begin " + name);
        uncommitted.put(name, new ArrayList<>());
        return name;
    }

    @Override
    public void write(String txn, String value) {
        List<String> records = uncommitted.get(txn);
        if (records == null || prepared.contains(txn)) {
            throw new IllegalStateException("write into " + txn + ", which is not open");
        }
        records.add(value);
    }

    @Override
    public String preCommit(String txn, long checkpointId) {
        calls.add("preCommit " + txn);
        prepared.add(txn);
        return txn;
    }

    @Override
    public void commit(String txn) {
        calls.add("commit " + txn);
        doCommit(txn);
    }

    @Override
    public void recoverAndCommit(String txn) {
        calls.add("recoverAndCommit " + txn);
        doCommit(txn);
    }

    private void doCommit(String txn) {
        if (commitFailure != null) {
            throw commitFailure;
        }
        if (committed.containsKey(txn)) {
            return;
        }
        if (!prepared.remove(txn)) {
            throw new IllegalStateException("commit of " + txn + ", which is not prepared");
        }
        committed.put(txn, uncommitted.remove(txn));
    }

    @Override
    public void abort(String txn) {
        calls.add("abort " + txn);
        doAbort(txn);
    }

    @Override
    public void recoverAndAbort(String txn) {
        calls.add("recoverAndAbort " + txn);
        doAbort(txn);
    }

    private void doAbort(String txn) {
        uncommitted.remove(txn);
        prepared.remove(txn);
    }

    @Override
    public void abortLingeringTransactions(SinkInitContext context) {
        calls.add("abortLingering " + context.getIndexOfSubtask());
    }

    @Override
    public VersionedSerializer<String> getTransactionSerializer() {
        return new VersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 7;
            }

            @Override
            public byte[] serialize(String value) {
                return value.getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public String deserialize(int version, byte[] serialized) {
                if (version != 7) {
                    throw new IllegalArgumentException("version " + version);
                }
                return new String(serialized, StandardCharsets.UTF_8);
            }
        };
    }
}

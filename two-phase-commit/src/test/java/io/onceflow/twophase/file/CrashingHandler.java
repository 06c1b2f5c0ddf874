package io.onceflow.twophase.file;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.twophase.TransactionContext;
import io.onceflow.twophase.TransactionHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Wraps a handler and crashes just before or just after chosen calls. Calls are numbered from 0 over
 * the whole life of the wrapper, across restores, so a plan of call numbers names exact moments:
 * between begin and the first write, between the commit's rename and the runtime hearing of it, in
 * the middle of a recovery.
 */
final class CrashingHandler<IN, TXN> implements TransactionHandler<IN, TXN> {

    private final TransactionHandler<IN, TXN> delegate;
    private final Set<Integer> crashAt;
    private final boolean afterTheCall;
    private int calls;
    /** Every call, numbered, for failure messages. */
    final List<String> trace = new ArrayList<>();

    CrashingHandler(TransactionHandler<IN, TXN> delegate, Set<Integer> crashAt, boolean afterTheCall) {
        this.delegate = delegate;
        this.crashAt = crashAt;
        this.afterTheCall = afterTheCall;
    }

    int calls() {
        return calls;
    }

    private interface Call<R> {
        R run() throws Exception;
    }

    private <R> R step(String what, Call<R> call) throws Exception {
        int index = calls++;
        boolean crash = crashAt.contains(index);
        trace.add(index + " " + what + (crash ? " <- crash " + (afterTheCall ? "after" : "before") : ""));
        if (crash && !afterTheCall) {
            throw new SimulatedCrash("before call " + index + ": " + what);
        }
        R result = call.run();
        if (crash) {
            throw new SimulatedCrash("after call " + index + ": " + what);
        }
        return result;
    }

    @Override
    public TXN beginTransaction(TransactionContext context) throws Exception {
        return step("begin " + context.transactionName(), () -> delegate.beginTransaction(context));
    }

    @Override
    public void write(TXN txn, IN value) throws Exception {
        step("write " + value + " into " + txn, () -> {
            delegate.write(txn, value);
            return null;
        });
    }

    @Override
    public TXN preCommit(TXN txn, long checkpointId) throws Exception {
        return step("preCommit " + txn + " for " + checkpointId, () -> delegate.preCommit(txn, checkpointId));
    }

    @Override
    public void commit(TXN txn) throws Exception {
        step("commit " + txn, () -> {
            delegate.commit(txn);
            return null;
        });
    }

    @Override
    public void abort(TXN txn) throws Exception {
        step("abort " + txn, () -> {
            delegate.abort(txn);
            return null;
        });
    }

    @Override
    public void recoverAndCommit(TXN txn) throws Exception {
        step("recoverAndCommit " + txn, () -> {
            delegate.recoverAndCommit(txn);
            return null;
        });
    }

    @Override
    public void recoverAndAbort(TXN txn) throws Exception {
        step("recoverAndAbort " + txn, () -> {
            delegate.recoverAndAbort(txn);
            return null;
        });
    }

    @Override
    public void abortLingeringTransactions(SinkInitContext context) throws Exception {
        step("abortLingering " + context.getIndexOfSubtask(), () -> {
            delegate.abortLingeringTransactions(context);
            return null;
        });
    }

    @Override
    public VersionedSerializer<TXN> getTransactionSerializer() {
        return delegate.getTransactionSerializer();
    }
}

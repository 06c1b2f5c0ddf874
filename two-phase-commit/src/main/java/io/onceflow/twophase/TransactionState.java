package io.onceflow.twophase;

/**
 * The life cycle of one transaction of a {@link TwoPhaseCommitSink}, with its allowed transitions:
 *
 * <pre>
 *            preCommit (barrier n)          commit (checkpoint n complete)
 *   OPEN ──────────────────────────▶ PRE_COMMITTED ──────────────────────────▶ COMMITTED
 *     │                                    │
 *     │ abort (close, end of input         │ given up (commit failed after the
 *     │  while empty, recover-and-abort)   │  transaction timeout, opted in)
 *     ▼                                    ▼
 *  ABORTED ◀───────────────────────────────┘
 * </pre>
 *
 * Only {@code OPEN} (a writer's state) and {@code PRE_COMMITTED} (a committable) are ever stored in a
 * checkpoint. {@code COMMITTED} and {@code ABORTED} are final.
 */
public enum TransactionState {
    OPEN,
    PRE_COMMITTED,
    COMMITTED,
    ABORTED;

    /** Whether a transaction in this state may move to {@code next}. */
    public boolean canTransitionTo(TransactionState next) {
        return switch (this) {
            case OPEN -> next == PRE_COMMITTED || next == ABORTED;
            case PRE_COMMITTED -> next == COMMITTED || next == ABORTED;
            case COMMITTED, ABORTED -> false;
        };
    }

    /**
     * Checks a transition.
     *
     * @return {@code next}
     * @throws IllegalStateException naming both states when the transition is not allowed
     */
    public TransactionState transitionTo(TransactionState next) {
        if (!canTransitionTo(next)) {
            throw new IllegalStateException("A transaction cannot go from " + this + " to " + next);
        }
        return next;
    }
}

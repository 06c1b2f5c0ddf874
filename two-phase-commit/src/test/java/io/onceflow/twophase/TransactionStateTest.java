package io.onceflow.twophase;

import static io.onceflow.twophase.TransactionState.ABORTED;
import static io.onceflow.twophase.TransactionState.COMMITTED;
import static io.onceflow.twophase.TransactionState.OPEN;
import static io.onceflow.twophase.TransactionState.PRE_COMMITTED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TransactionStateTest {

    @Test
    void onlyTheDocumentedTransitionsAreAllowed() {
        Map<TransactionState, Set<TransactionState>> allowed = Map.of(
                OPEN, EnumSet.of(PRE_COMMITTED, ABORTED),
                PRE_COMMITTED, EnumSet.of(COMMITTED, ABORTED),
                COMMITTED, EnumSet.noneOf(TransactionState.class),
                ABORTED, EnumSet.noneOf(TransactionState.class));
        for (TransactionState from : TransactionState.values()) {
            for (TransactionState to : TransactionState.values()) {
                boolean expected = allowed.get(from).contains(to);
                assertEquals(expected, from.canTransitionTo(to), from + " -> " + to);
                if (expected) {
                    assertEquals(to, from.transitionTo(to));
                } else {
                    IllegalStateException e = assertThrows(IllegalStateException.class, () -> from.transitionTo(to));
                    assertEquals("A transaction cannot go from " + from + " to " + to, e.getMessage());
                }
            }
        }
    }
}

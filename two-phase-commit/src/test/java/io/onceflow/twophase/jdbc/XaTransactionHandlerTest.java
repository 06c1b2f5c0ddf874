package io.onceflow.twophase.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.onceflow.testing.TestDatabase;
import java.sql.Connection;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The XA handler against a real MariaDB: a transaction prepared on a connection stays attached to that session
 * until the server has handled its end, and meanwhile MariaDB answers a commit or rollback from another session
 * with "unknown XID", as it answers one for a transaction ended long ago. A connection closed by this process a
 * moment before (the sink's after its prepare, an earlier attempt's after a failure) is such a session. The
 * handler must wait for it, not take the transaction for ended: a commit taken for done would leave the
 * checkpoint's records invisible for good and their rows locked.
 */
class XaTransactionHandlerTest {

    private static final TestDatabase DB = TestDatabase.MARIADB;
    private static final String XID = XaTransactionHandler.prefix("job", "xa", 0) + "7-0-test";

    private String table;
    private XaTransactionHandler<String> handler;

    @BeforeEach
    void createTable() {
        table = TestDatabase.freshTableName("xa_held");
        DB.createCountsTable(table);
        handler = new XaTransactionHandler<>(DB.url(), DB.user(), DB.password(),
                "INSERT INTO " + table + " (word, count) VALUES (?, ?)", (ps, v) -> { }, 10, 1_000);
    }

    @AfterEach
    void dropTable() throws Exception {
        try (Connection c = DB.connect()) { // a failed test's transaction would hold the table's rows
            for (String xid : XaDialect.MYSQL.prepared(c)) {
                if (xid.equals(XID)) {
                    XaDialect.MYSQL.rollbackPrepared(c, xid);
                }
            }
        }
        DB.drop(table);
    }

    @ParameterizedTest(name = "commit: {0}")
    @ValueSource(booleans = {true, false})
    void aTransactionStillHeldByAnotherSessionIsEndedOnceThatSessionEnds(boolean commit) throws Exception {
        String xid = XID;
        Connection holder = DB.connect();
        XaDialect.MYSQL.begin(holder, xid);
        try (var s = holder.createStatement()) {
            s.execute("INSERT INTO " + table + " (word, count) VALUES ('held', 1)");
        }
        XaDialect.MYSQL.prepare(holder, xid);

        // the checkpoint's handle, restored or handed on without the connection, ended from another session
        XaTransaction prepared = new XaTransaction(0, xid, 7, 1);
        CompletableFuture<Void> ended = CompletableFuture.runAsync(() -> {
            try {
                if (commit) {
                    handler.commit(prepared);
                } else {
                    handler.abort(prepared);
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(300);
        assertFalse(ended.isDone(), "the handler does not take a transaction held by a live session for ended");
        holder.close(); // the session ends: the transaction stays prepared, detached from it
        ended.get(30, TimeUnit.SECONDS);

        assertEquals(commit ? Map.of("held", 1L) : Map.of(), DB.readCounts(table),
                commit ? "the commit made the row visible" : "the rollback removed the row");
        try (Connection c = DB.connect()) {
            assertFalse(XaDialect.MYSQL.prepared(c).contains(xid), "nothing is left prepared");
        }
    }
}

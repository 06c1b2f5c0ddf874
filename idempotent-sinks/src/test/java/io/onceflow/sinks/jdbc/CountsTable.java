package io.onceflow.sinks.jdbc;

import io.onceflow.testing.TestDatabase;

/** The upsert sink of the tests' (word, count) tables. */
final class CountsTable {

    private CountsTable() {
    }

    /** A sink builder for a (word, count) table of {@code db}, fed the "word,count" lines of a running count. */
    static JdbcUpsertSink.Builder<String> sink(TestDatabase db, String table) {
        return JdbcUpsertSink.<String>builder().setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                .setTable(table).setColumns("word", "count").setKeyColumns("word")
                .setRowMapper(line -> {
                    int comma = line.lastIndexOf(',');
                    return new Object[] {line.substring(0, comma), Long.parseLong(line.substring(comma + 1))};
                });
    }
}

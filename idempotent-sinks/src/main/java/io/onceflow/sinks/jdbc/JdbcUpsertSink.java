package io.onceflow.sinks.jdbc;

import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes records into a database table as upserts: a row whose key is new is inserted, one whose key
 * exists replaces the row's other columns. Each subtask batches its rows (the last one per key wins
 * within a batch), writes a batch in one transaction when it is full and at every checkpoint barrier,
 * so everything before a completed checkpoint is in the table. After a crash the job replays from its
 * checkpoint and writes those rows again: the same keys get the same values, so the table ends up as if
 * nothing had happened (at-least-once writes, idempotent result).
 *
 * <p><b>Replays and the version guard.</b> Without a guard, while a replay runs the table can show
 * values older than it showed before the crash, until the replay catches up: replays converge to the
 * final state, they do not keep every intermediate one monotonic. With {@link Builder#setVersionColumn}
 * (a column that grows with each newer value of a key: a source offset, an event time, a running
 * count) a row is only written over one of a lower version, so a replay never overwrites a newer value
 * with an older one.
 *
 * <p>PostgreSQL ({@code INSERT … ON CONFLICT (key) DO UPDATE}) and MariaDB/MySQL ({@code INSERT … ON
 * DUPLICATE KEY UPDATE}); the dialect comes from the JDBC URL. The table must have a primary key or
 * unique index on exactly the key columns, checked when the job starts. Connections come from a small
 * HikariCP pool per subtask.
 *
 * <p><b>Errors.</b> Transient ones (connection lost, deadlock, serialization failure, timeout) are
 * retried with exponential backoff, up to {@link Builder#setMaxRetries}, then fail the job, which
 * restarts from its checkpoint. Any other one (a constraint, a type, a missing column) fails the job
 * at once and for good, naming the record the database refused.
 */
public final class JdbcUpsertSink<T> implements Sink<T>, ValidatesConfiguration {

    final String jdbcUrl;
    final Properties connectionProperties;
    final String table;
    final List<String> columns;
    final List<String> keyColumns;
    final String versionColumn;
    final JdbcRowMapper<T> rowMapper;
    final int batchSize;
    final int maxRetries;
    final Duration initialBackoff;
    final Duration maxBackoff;
    final String createTableDdl;
    final SqlDialect dialect;
    final String upsertSql;

    private JdbcUpsertSink(Builder<T> b) {
        this.jdbcUrl = b.jdbcUrl;
        this.connectionProperties = b.properties;
        this.table = b.table;
        this.columns = List.copyOf(b.columns);
        this.keyColumns = List.copyOf(b.keyColumns);
        this.versionColumn = b.versionColumn;
        this.rowMapper = b.rowMapper;
        this.batchSize = b.batchSize;
        this.maxRetries = b.maxRetries;
        this.initialBackoff = b.initialBackoff;
        this.maxBackoff = b.maxBackoff;
        this.createTableDdl = b.createTableDdl;
        this.dialect = SqlDialect.of(jdbcUrl);
        this.upsertSql = dialect.upsert(table, columns, keyColumns, versionColumn);
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    /** The statement each row is written with. */
    public String upsertSql() {
        return upsertSql;
    }

    public SqlDialect dialect() {
        return dialect;
    }

    @Override
    public SinkWriter<T> createWriter(SinkInitContext context) {
        return new JdbcUpsertWriter<>(this, context);
    }

    /**
     * Connects once before the job starts: the server must answer, the table must exist (or be created
     * by the configured DDL), have every column, and a primary key or unique index on exactly the key
     * columns (without one, MariaDB and MySQL would insert duplicates instead of updating). Its errors
     * carry the database's message and SQLState in their own, so they read whole on one line.
     */
    @Override
    public void validate(Context context) throws Exception {
        String who = "JDBC upsert sink '" + context.operatorUid() + "'";
        try (Connection c = DriverManager.getConnection(jdbcUrl, connectionProperties)) {
            if (createTableDdl != null && !probe(c)) {
                try (Statement s = c.createStatement()) {
                    s.execute(createTableDdl);
                }
                if (!c.getAutoCommit()) {
                    c.commit();
                }
            }
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT " + String.join(", ", columns) + " FROM " + table + " WHERE 1 = 0").close();
            } catch (SQLException e) {
                throw new IllegalStateException(who + ": table " + table + " with columns " + columns
                        + " cannot be read: " + SqlErrors.describe(e) + ". Create the table"
                        + (createTableDdl == null ? " (or give the sink its DDL with setCreateTableIfMissing(...))" : "")
                        + ", or fix the table and column names");
            }
            if (!hasUniqueKey(c.getMetaData())) {
                throw new IllegalStateException(who + ": table " + table + " has no primary key or unique index on "
                        + "exactly " + keyColumns + ", so an upsert could not find the row to update"
                        + (dialect == SqlDialect.MYSQL ? " and would insert a second one" : "") + ". Add one, e.g. "
                        + "ALTER TABLE " + table + " ADD PRIMARY KEY (" + String.join(", ", keyColumns) + ")");
            }
        } catch (SQLException e) {
            throw new IllegalStateException(who + " cannot connect to " + jdbcUrl + as() + ": "
                    + SqlErrors.describe(e) + ". Is the database server running and reachable, and are the URL, user "
                    + "and password right?");
        }
    }

    private String as() {
        Object user = connectionProperties.get("user");
        return user == null ? "" : " as user '" + user + "'";
    }

    /** Whether the table exists (a query on it works). */
    private boolean probe(Connection c) {
        try (Statement s = c.createStatement()) {
            s.executeQuery("SELECT 1 FROM " + table + " WHERE 1 = 0").close();
            return true;
        } catch (SQLException e) {
            try {
                if (!c.getAutoCommit()) {
                    c.rollback();
                }
            } catch (SQLException ignored) {
                // the connection is closed right after
            }
            return false;
        }
    }

    private boolean hasUniqueKey(DatabaseMetaData meta) throws SQLException {
        String schema = null;
        String name = table;
        int dot = table.lastIndexOf('.');
        if (dot > 0) {
            schema = table.substring(0, dot);
            name = table.substring(dot + 1);
        }
        Set<String> wanted = new HashSet<>();
        keyColumns.forEach(k -> wanted.add(k.toLowerCase(Locale.ROOT)));
        for (String candidate : new LinkedHashSet<>(List.of(name, name.toLowerCase(Locale.ROOT), name.toUpperCase(Locale.ROOT)))) {
            Map<String, Set<String>> indexes = new TreeMap<>();
            // MariaDB and MySQL name the database as catalog, PostgreSQL as schema
            String catalog = dialect == SqlDialect.MYSQL ? schema : null;
            String schemaPattern = dialect == SqlDialect.MYSQL ? null : schema;
            try (ResultSet rs = meta.getIndexInfo(catalog, schemaPattern, candidate, true, true)) {
                while (rs.next()) {
                    String index = rs.getString("INDEX_NAME");
                    String column = rs.getString("COLUMN_NAME");
                    if (index != null && column != null) {
                        indexes.computeIfAbsent(index, i -> new HashSet<>()).add(column.toLowerCase(Locale.ROOT));
                    }
                }
            }
            if (indexes.values().stream().anyMatch(wanted::equals)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "JdbcUpsertSink(" + table + " at " + jdbcUrl + ")";
    }

    /** Builds a {@link JdbcUpsertSink}; {@link #build()} checks the whole configuration at once. */
    public static final class Builder<T> {
        private String jdbcUrl;
        private final Properties properties = new Properties();
        private String table;
        private List<String> columns = List.of();
        private List<String> keyColumns = List.of();
        private String versionColumn;
        private JdbcRowMapper<T> rowMapper;
        private int batchSize = 1000;
        private int maxRetries = 5;
        private Duration initialBackoff = Duration.ofMillis(100);
        private Duration maxBackoff = Duration.ofSeconds(5);
        private String createTableDdl;

        private Builder() {
        }

        /** {@code jdbc:postgresql://host:5432/db}, {@code jdbc:mariadb://host:3306/db} or {@code jdbc:mysql://…}. */
        public Builder<T> setJdbcUrl(String jdbcUrl) {
            this.jdbcUrl = jdbcUrl;
            return this;
        }

        public Builder<T> setUsername(String username) {
            properties.setProperty("user", username);
            return this;
        }

        public Builder<T> setPassword(String password) {
            properties.setProperty("password", password);
            return this;
        }

        /** A JDBC driver property, e.g. {@code sslmode} or {@code connectTimeout}. */
        public Builder<T> setProperty(String key, String value) {
            properties.setProperty(key, value);
            return this;
        }

        /** The table, optionally with its schema ({@code analytics.word_counts}). */
        public Builder<T> setTable(String table) {
            this.table = table;
            return this;
        }

        /** Every column written, in the order the row mapper returns their values. */
        public Builder<T> setColumns(String... columns) {
            this.columns = List.of(columns);
            return this;
        }

        /** The columns that identify a row: a primary key or unique index of the table. */
        public Builder<T> setKeyColumns(String... keyColumns) {
            this.keyColumns = List.of(keyColumns);
            return this;
        }

        /**
         * The version guard: a column, among {@link #setColumns}, whose value grows with each newer value of
         * a key. A row is then only written over a row of a lower version (or none), so a replay after a
         * crash never overwrites a newer value with an older one. Its values must be comparable (numbers,
         * timestamps, strings).
         */
        public Builder<T> setVersionColumn(String versionColumn) {
            this.versionColumn = versionColumn;
            return this;
        }

        public Builder<T> setRowMapper(JdbcRowMapper<T> rowMapper) {
            this.rowMapper = rowMapper;
            return this;
        }

        /** Rows per batch (one transaction); a batch is also written at every checkpoint barrier. Default 1000. */
        public Builder<T> setBatchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Retries of a batch after a transient error before the job fails (and restarts). Default 5. */
        public Builder<T> setMaxRetries(int maxRetries) {
            this.maxRetries = maxRetries;
            return this;
        }

        /** The wait before the first retry, doubled for each next one up to {@code max}. Default 100 ms, 5 s. */
        public Builder<T> setRetryBackoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /** DDL run when the job starts and the table does not exist yet. */
        public Builder<T> setCreateTableIfMissing(String ddl) {
            this.createTableDdl = ddl;
            return this;
        }

        public JdbcUpsertSink<T> build() {
            StringBuilder problems = new StringBuilder();
            if (jdbcUrl == null || jdbcUrl.isBlank()) {
                problems.append("\n - no JDBC URL: call setJdbcUrl(\"jdbc:postgresql://host:5432/db\")");
            } else {
                try {
                    SqlDialect.of(jdbcUrl);
                } catch (IllegalArgumentException e) {
                    problems.append("\n - ").append(e.getMessage());
                }
            }
            if (table == null || !table.matches("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?")) {
                problems.append("\n - the table must be a plain (optionally schema-qualified) name, was ").append(table);
            }
            if (columns.isEmpty()) {
                problems.append("\n - no columns: call setColumns(\"word\", \"count\")");
            }
            for (String c : columns) {
                if (c == null || !c.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                    problems.append("\n - column names must be plain names, was ").append(c);
                }
            }
            if (new HashSet<>(columns).size() != columns.size()) {
                problems.append("\n - a column is named twice in ").append(columns);
            }
            if (keyColumns.isEmpty()) {
                problems.append("\n - no key columns: call setKeyColumns(...) with the table's primary key");
            } else if (!columns.containsAll(keyColumns)) {
                problems.append("\n - the key columns ").append(keyColumns).append(" must be among the columns ")
                        .append(columns);
            }
            if (versionColumn != null && (!columns.contains(versionColumn) || keyColumns.contains(versionColumn))) {
                problems.append("\n - the version column ").append(versionColumn)
                        .append(" must be one of the columns, and not a key column");
            }
            if (rowMapper == null) {
                problems.append("\n - no row mapper: call setRowMapper(record -> new Object[] {...})");
            }
            if (batchSize < 1) {
                problems.append("\n - the batch size must be at least 1, was ").append(batchSize);
            }
            if (maxRetries < 0) {
                problems.append("\n - max retries must not be negative, was ").append(maxRetries);
            }
            if (initialBackoff == null || maxBackoff == null || initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
                problems.append("\n - the retry backoff must be 0 or more, and the maximum at least the initial one");
            }
            if (problems.length() > 0) {
                throw new IllegalArgumentException("The JDBC upsert sink is not configured correctly:" + problems);
            }
            Objects.requireNonNull(rowMapper);
            return new JdbcUpsertSink<>(this);
        }
    }

    /** The columns' values of a row, as a readable list for error messages. */
    String describeRow(Object[] row) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < row.length && i < columns.size(); i++) {
            parts.add(columns.get(i) + "=" + row[i]);
        }
        return "(" + String.join(", ", parts) + ")";
    }
}

package io.onceflow.sinks.jdbc;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How one database family spells an upsert. Chosen from the JDBC URL: {@code jdbc:postgresql:} gives
 * {@link #POSTGRESQL} ({@code INSERT … ON CONFLICT … DO UPDATE}), {@code jdbc:mariadb:} and
 * {@code jdbc:mysql:} give {@link #MYSQL} ({@code INSERT … ON DUPLICATE KEY UPDATE}).
 */
public enum SqlDialect {
    POSTGRESQL {
        @Override
        String upsert(String table, List<String> columns, List<String> keys, String version) {
            List<String> updated = columns.stream().filter(c -> !keys.contains(c)).toList();
            StringBuilder sql = new StringBuilder(insert(table, columns)).append(" ON CONFLICT (")
                    .append(String.join(", ", keys)).append(") DO ");
            if (updated.isEmpty()) {
                return sql.append("NOTHING").toString();
            }
            sql.append("UPDATE SET ").append(updated.stream().map(c -> c + " = EXCLUDED." + c)
                    .collect(Collectors.joining(", ")));
            if (version != null) {
                // equal versions carry equal values: nothing to do
                sql.append(" WHERE ").append(table).append('.').append(version).append(" IS NULL OR ")
                        .append(table).append('.').append(version).append(" < EXCLUDED.").append(version);
            }
            return sql.toString();
        }
    },
    MYSQL {
        @Override
        String upsert(String table, List<String> columns, List<String> keys, String version) {
            List<String> updated = columns.stream().filter(c -> !keys.contains(c)).toList();
            StringBuilder sql = new StringBuilder(insert(table, columns)).append(" ON DUPLICATE KEY UPDATE ");
            if (updated.isEmpty()) {
                // a no-op assignment: the row stays as it is
                return sql.append(keys.get(0)).append(" = ").append(keys.get(0)).toString();
            }
            if (version == null) {
                return sql.append(updated.stream().map(c -> c + " = VALUES(" + c + ")")
                        .collect(Collectors.joining(", "))).toString();
            }
            // assignments run left to right and see the columns already assigned: the version goes last
            String newer = "(" + version + " IS NULL OR VALUES(" + version + ") > " + version + ")";
            List<String> assignments = new java.util.ArrayList<>();
            for (String c : updated) {
                if (!c.equals(version)) {
                    assignments.add(c + " = IF(" + newer + ", VALUES(" + c + "), " + c + ")");
                }
            }
            assignments.add(version + " = IF(" + newer + ", VALUES(" + version + "), " + version + ")");
            return sql.append(String.join(", ", assignments)).toString();
        }
    };

    /** {@code INSERT INTO … (…) VALUES (?, …) ON …} for rows of {@code columns}, unique on {@code keys}. */
    abstract String upsert(String table, List<String> columns, List<String> keys, String version);

    private static String insert(String table, List<String> columns) {
        return "INSERT INTO " + table + " (" + String.join(", ", columns) + ") VALUES ("
                + columns.stream().map(c -> "?").collect(Collectors.joining(", ")) + ")";
    }

    /** The dialect of a JDBC URL; throws, naming the supported ones, for any other. */
    public static SqlDialect of(String jdbcUrl) {
        String url = jdbcUrl == null ? "" : jdbcUrl.toLowerCase(Locale.ROOT);
        if (url.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        if (url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:")) {
            return MYSQL;
        }
        throw new IllegalArgumentException("JDBC URL '" + jdbcUrl + "' is of no database the upsert sink knows: "
                + "use jdbc:postgresql://host:port/database, jdbc:mariadb://host:port/database or "
                + "jdbc:mysql://host:port/database");
    }
}

package io.onceflow.apps;

/** Turns an exception into the one line a command-line user needs. */
final class Errors {

    private Errors() {
    }

    /** A {@link UserError}'s own message, or else the message of the root cause, on one line. */
    static String oneLine(Throwable e) {
        Throwable t = e;
        while (!(t instanceof UserError) && t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String message = t.getMessage() != null && !t.getMessage().isBlank() ? t.getMessage() : t.getClass().getSimpleName();
        return message.replaceAll("\\s+", " ").trim();
    }
}

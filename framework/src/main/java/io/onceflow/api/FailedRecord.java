package io.onceflow.api;

/**
 * A record a user function threw on, with the operator and the error: what an operator sends to its
 * failure side output when {@link DataStream#catchFailures} is set, instead of failing the job.
 *
 * @param record the input record the function could not handle
 * @param operatorUid the uid of the operator whose function threw
 * @param exceptionClass the class of what it threw
 * @param exceptionMessage its message
 */
public record FailedRecord<T>(T record, String operatorUid, String exceptionClass, String exceptionMessage) {
}

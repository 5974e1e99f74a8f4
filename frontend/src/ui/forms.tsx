/** Labelled form controls that show the API's per-field messages next to the field. */
import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from "react";

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  label: string;
  error?: string | undefined;
  help?: ReactNode;
}

export function Field({ label, error, help, className, ...input }: FieldProps) {
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  // The API's message replaces the hint rather than repeating it.
  const showHelp = help && !error;
  const describedBy = [showHelp ? helpId : null, error ? errorId : null].filter(Boolean).join(" ");
  return (
    <div className={className ?? "mb-3"}>
      <label htmlFor={id} className="form-label">
        {label}
      </label>
      <input
        id={id}
        className={`form-control${error ? " is-invalid" : ""}`}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        {...input}
      />
      {error && (
        <div id={errorId} className="invalid-feedback">
          {error}
        </div>
      )}
      {showHelp && (
        <div id={helpId} className="form-text">
          {help}
        </div>
      )}
    </div>
  );
}

interface SelectProps extends SelectHTMLAttributes<HTMLSelectElement> {
  label: string;
  error?: string | undefined;
  hideLabel?: boolean;
}

export function SelectField({ label, error, hideLabel, className, children, ...select }: SelectProps) {
  const id = useId();
  return (
    <div className={className ?? "mb-3"}>
      <label htmlFor={id} className={hideLabel ? "visually-hidden" : "form-label"}>
        {label}
      </label>
      <select
        id={id}
        className={`form-select${error ? " is-invalid" : ""}`}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...select}
      >
        {children}
      </select>
      {error && (
        <div id={`${id}-error`} className="invalid-feedback">
          {error}
        </div>
      )}
    </div>
  );
}

export function FormAlert({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <div className="alert alert-danger py-2" role="alert">
      {message}
    </div>
  );
}

export function SubmitButton({
  pending,
  children,
  pendingLabel,
  className,
  disabled = false,
}: {
  pending: boolean;
  disabled?: boolean;
  children: ReactNode;
  pendingLabel: string;
  className?: string;
}) {
  return (
    <button type="submit" className={className ?? "btn btn-primary"} disabled={pending || disabled}>
      {pending ? (
        <>
          <span className="spinner-border spinner-border-sm me-2" aria-hidden="true" />
          {pendingLabel}
        </>
      ) : (
        children
      )}
    </button>
  );
}

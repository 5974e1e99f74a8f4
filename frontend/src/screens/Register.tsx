/** Self-registration; the first account of a new workspace becomes its administrator. */
import { useMutation } from "@tanstack/react-query";
import { useState, type ChangeEvent, type SubmitEvent } from "react";
import { Link, useNavigate } from "react-router";

import { ApiError, unwrap } from "../api/client";
import { useApi } from "../api/context";
import { Field, FormAlert, SubmitButton } from "../ui/forms";
import { AuthLayout } from "./AuthLayout";
import { useDocumentTitle } from "../ui/hooks";
import { formErrors } from "../ui/errors";

const FIELDS = ["full_name", "email", "password"] as const;

export function Register() {
  useDocumentTitle("Create an account");
  const api = useApi();
  const navigate = useNavigate();
  const [form, setForm] = useState({ full_name: "", email: "", password: "" });
  const register = useMutation({
    mutationFn: async () => {
      await unwrap(api.client.POST("/api/v1/auth/register", { body: form }));
      await api.signIn(form.email, form.password);
    },
    onSuccess: () => navigate("/", { replace: true }),
  });

  const errors = formErrors(register.error, FIELDS, {
    email_taken: { field: "email", message: "An account with this email already exists." },
  });
  const closed = register.error instanceof ApiError && register.error.code === "registration_closed";

  function submit(event: SubmitEvent) {
    event.preventDefault();
    register.mutate();
  }

  function update(field: keyof typeof form) {
    return (event: ChangeEvent<HTMLInputElement>) =>
      setForm((current) => ({ ...current, [field]: event.target.value }));
  }

  return (
    <AuthLayout
      title="Create your account"
      footer={
        <>
          Already have an account? <Link to="/login">Sign in</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        <FormAlert
          message={
            closed
              ? "Registration is closed here. Ask an administrator to create your account."
              : errors.summary
          }
        />
        <Field
          label="Full name"
          name="full_name"
          autoComplete="name"
          required
          autoFocus
          value={form.full_name}
          onChange={update("full_name")}
          error={errors.fields.full_name}
        />
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={form.email}
          onChange={update("email")}
          error={errors.fields.email}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={form.password}
          onChange={update("password")}
          error={errors.fields.password}
          help="At least 8 characters and hard to guess: a few unrelated words work well."
        />
        <SubmitButton
          pending={register.isPending}
          pendingLabel="Creating account…"
          className="btn btn-primary w-100"
        >
          Create account
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}

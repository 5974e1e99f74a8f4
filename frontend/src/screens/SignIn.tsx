/** Sign in with email and password (OAuth2 password flow underneath). */
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";

import { ApiError } from "../api/client";
import { useApi, useAuthStatus } from "../api/context";
import { Field, FormAlert, SubmitButton } from "../ui/forms";
import { AuthLayout } from "./AuthLayout";
import { safeNext } from "./safeNext";
import { useDocumentTitle } from "../ui/hooks";
import { describeError } from "../ui/errors";

function signInMessage(error: unknown): string | null {
  if (!error) return null;
  if (error instanceof ApiError) {
    if (error.code === "invalid_credentials") return "That email and password don't match an account.";
    if (error.code === "account_inactive") return "This account has been deactivated. Ask an administrator.";
    if (error.status === 422) return "Enter your email and password.";
  }
  const { title, detail } = describeError(error);
  return detail ? `${title}: ${detail}` : title;
}

export function SignIn() {
  useDocumentTitle("Sign in");
  const api = useApi();
  const status = useAuthStatus();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const signIn = useMutation({
    mutationFn: () => api.signIn(email.trim(), password),
    onSuccess: () => navigate(next, { replace: true }),
  });

  if (status === "signed-in" && !signIn.isPending) return <Navigate to={next} replace />;

  function submit(event: SubmitEvent) {
    event.preventDefault();
    signIn.mutate();
  }

  return (
    <AuthLayout
      title="Sign in"
      footer={
        <>
          New here? <Link to="/register">Create an account</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        <FormAlert message={signInMessage(signIn.error)} />
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="username"
          required
          autoFocus
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <SubmitButton pending={signIn.isPending} pendingLabel="Signing in…" className="btn btn-primary w-100">
          Sign in
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}

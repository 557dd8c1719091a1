import { Component, type ReactNode } from "react";
import { ErrorNotice } from "./ErrorNotice";

/** Catches a page that throws while rendering (or whose chunk fails to load). */
export class ErrorBoundary extends Component<
  { children: ReactNode; resetKey?: string },
  { error: unknown; resetKey?: string }
> {
  state: { error: unknown; resetKey?: string } = {
    error: null,
    resetKey: this.props.resetKey,
  };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  static getDerivedStateFromProps(
    props: { resetKey?: string },
    state: { error: unknown; resetKey?: string },
  ) {
    if (props.resetKey !== state.resetKey)
      return { error: null, resetKey: props.resetKey };
    return null;
  }

  render() {
    if (this.state.error) {
      const e = this.state.error;
      return (
        <ErrorNotice
          title="This page failed"
          error={{
            code: "page_error",
            message: e instanceof Error ? e.message : String(e),
          }}
          onRetry={() => window.location.reload()}
        />
      );
    }
    return this.props.children;
  }
}

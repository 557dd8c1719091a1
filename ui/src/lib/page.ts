import { useEffect } from "react";

/** What every page component receives from the router. */
export interface PageProps {
  params: Record<string, string | undefined>;
}

/** Sets the document title to "`title` · Integration Ledger". */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title
      ? `${title} · Integration Ledger`
      : "Integration Ledger";
  }, [title]);
}

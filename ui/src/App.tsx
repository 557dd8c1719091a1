import { lazy, Suspense, useState, type ComponentType } from "react";
import { Link, Route, Switch, useLocation } from "wouter";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { ErrorNotice } from "./components/ErrorNotice";
import { Loading } from "./components/Loading";
import { PageHeader } from "./components/PageHeader";
import type { PageProps } from "./lib/page";
import { can, type Scope } from "./lib/permissions";
import { SessionProvider, useSession } from "./lib/session";
import { SignIn } from "./SignIn";

const Overview = lazy(() => import("./pages/overview"));
const Events = lazy(() => import("./pages/events"));
const Deliveries = lazy(() => import("./pages/deliveries"));
const Endpoints = lazy(() => import("./pages/endpoints"));
const Mappings = lazy(() => import("./pages/mappings"));
const Keys = lazy(() => import("./pages/keys"));
const Audit = lazy(() => import("./pages/audit"));
const Jobs = lazy(() => import("./pages/jobs"));

interface Section {
  href: string;
  label: string;
  /** Scopes needed to see it (none: any key). */
  scopes: Scope[];
  paths: string[];
  page: ComponentType<PageProps>;
}

export const SECTIONS: Section[] = [
  { href: "/", label: "Overview", scopes: [], paths: ["/"], page: Overview },
  {
    href: "/events",
    label: "Events",
    scopes: ["events:read"],
    paths: ["/events", "/events/:id"],
    page: Events,
  },
  {
    href: "/deliveries",
    label: "Deliveries",
    scopes: ["deliveries:read"],
    paths: ["/deliveries", "/deliveries/:id"],
    page: Deliveries,
  },
  {
    href: "/endpoints",
    label: "Endpoints",
    scopes: ["endpoints:read"],
    paths: ["/endpoints", "/endpoints/:id"],
    page: Endpoints,
  },
  {
    href: "/mappings",
    label: "Mappings",
    scopes: ["mappings:read"],
    paths: ["/mappings", "/mappings/:eventType/:targetSystem"],
    page: Mappings,
  },
  {
    href: "/keys",
    label: "API keys",
    scopes: ["keys:admin"],
    paths: ["/keys"],
    page: Keys,
  },
  {
    href: "/audit",
    label: "Audit",
    scopes: ["audit:read"],
    paths: ["/audit"],
    page: Audit,
  },
  {
    href: "/jobs",
    label: "Sync jobs",
    scopes: ["jobs:write"],
    paths: ["/jobs"],
    page: Jobs,
  },
];

function isCurrent(href: string, location: string): boolean {
  return href === "/"
    ? location === "/"
    : location === href || location.startsWith(`${href}/`);
}

function Shell() {
  const { viewer, signOut } = useSession();
  const [location] = useLocation();
  // The menu (narrow screens) is open for the location it was opened at, so
  // following a link closes it.
  const [menuAt, setMenuAt] = useState<string | null>(null);
  const menuOpen = menuAt === location;
  const visible = SECTIONS.filter((s) => can(viewer.permissions, ...s.scopes));

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuAt(menuOpen ? null : location)}
        >
          <span aria-hidden="true">☰</span>
          <span className="visually-hidden">Menu</span>
        </button>
        <Link href="/" className="brand">
          Integration Ledger
        </Link>
        <div className="topbar-user">
          <span
            className="key-name"
            data-testid="viewer-name"
            title={viewer.permissions.join(", ")}
          >
            {viewer.name}
          </span>
          <button
            type="button"
            className="btn btn-small"
            onClick={signOut}
            data-testid="sign-out"
          >
            Sign out
          </button>
        </div>
      </header>
      <div className="layout">
        <nav
          id="main-nav"
          className={`nav${menuOpen ? " nav-open" : ""}`}
          aria-label="Main"
        >
          <ul>
            {visible.map((s) => (
              <li key={s.href}>
                <Link
                  href={s.href}
                  className="nav-link"
                  aria-current={
                    isCurrent(s.href, location) ? "page" : undefined
                  }
                >
                  {s.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="main" tabIndex={-1}>
          <ErrorBoundary resetKey={location}>
            <Suspense fallback={<Loading />}>
              <Switch>
                {SECTIONS.flatMap((s) =>
                  s.paths.map((path) => (
                    <Route key={path} path={path}>
                      {(params) =>
                        can(viewer.permissions, ...s.scopes) ? (
                          <s.page
                            params={
                              params as Record<string, string | undefined>
                            }
                          />
                        ) : (
                          <Forbidden label={s.label} scopes={s.scopes} />
                        )
                      }
                    </Route>
                  )),
                )}
                <Route>
                  <PageHeader title="Not found" />
                  <p>
                    Nothing lives at this address.{" "}
                    <Link href="/">Go to the overview</Link>.
                  </p>
                </Route>
              </Switch>
            </Suspense>
          </ErrorBoundary>
        </main>
      </div>
    </div>
  );
}

function Forbidden(props: { label: string; scopes: Scope[] }) {
  return (
    <>
      <PageHeader title={props.label} />
      <ErrorNotice
        error={{
          code: "missing_scope",
          message: `This API key lacks the ${props.scopes.join(" and ")} scope.`,
        }}
      />
    </>
  );
}

export function App() {
  return (
    <SessionProvider
      loading={<Loading label="Checking the API key…" />}
      signIn={(p) => <SignIn {...p} />}
    >
      <Shell />
    </SessionProvider>
  );
}

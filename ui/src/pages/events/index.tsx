import type { PageProps } from "../../lib/page";
import { EventDetail } from "./EventDetail";
import { EventList } from "./EventList";
import "./events.css";
import { useUrlQuery } from "../../lib/url";

/** `/events` (the list) and `/events/:id` (one event). */
export default function Page(props: PageProps) {
  const id = props.params.id;
  return id ? <EventDetail key={id} id={id} /> : <EventListRoute />;
}

/**
 * Reads the query string here, above the component that queries with it:
 * React 18 drops a `useSyncExternalStore` update back to the first value in a
 * component that also sets state while rendering (react#25565), as urql's
 * `useQuery` does when its variables change, so the back button would not
 * re-render a list that read the URL itself.
 */
function EventListRoute() {
  const { search, go } = useUrlQuery();
  return <EventList search={search} go={go} />;
}

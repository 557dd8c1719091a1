import type { PageProps } from "../../lib/page";
import "./endpoints.css";
import { EndpointDetail } from "./EndpointDetail";
import { EndpointList } from "./EndpointList";

/** `/endpoints` and `/endpoints/:id`. */
export default function Page(props: PageProps) {
  const id = props.params.id;
  return id ? <EndpointDetail key={id} id={id} /> : <EndpointList />;
}

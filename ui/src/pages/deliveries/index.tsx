import { Empty } from "../../components/Empty";
import { PageHeader } from "../../components/PageHeader";
import { usePageTitle, type PageProps } from "../../lib/page";

export default function Page(_props: PageProps) {
  usePageTitle("Deliveries");
  return (
    <>
      <PageHeader title="Deliveries" />
      <Empty>This page is being built.</Empty>
    </>
  );
}

import { Empty } from "../../components/Empty";
import { PageHeader } from "../../components/PageHeader";
import { usePageTitle, type PageProps } from "../../lib/page";

export default function Page(_props: PageProps) {
  usePageTitle("Mappings");
  return (
    <>
      <PageHeader title="Mappings" />
      <Empty>This page is being built.</Empty>
    </>
  );
}

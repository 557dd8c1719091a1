import type { CodegenConfig } from "@graphql-codegen/cli";

// CODEGEN_OUT lets `npm run check` generate into a scratch folder and compare.
const out = process.env.CODEGEN_OUT ?? "./src/gql/";
// CODEGEN_EXCLUDE (comma-separated globs) leaves out documents, e.g. work in
// progress that is not committed yet.
const exclude = (process.env.CODEGEN_EXCLUDE ?? "")
  .split(",")
  .filter(Boolean)
  .map((glob) => `!${glob}`);

const config: CodegenConfig = {
  schema: "../docs/schema.graphql",
  documents: [
    "src/**/*.{ts,tsx}",
    "!src/gql/**/*",
    "!src/**/*.test.{ts,tsx}",
    ...exclude,
  ],
  ignoreNoDocuments: true,
  generates: {
    [out]: {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", JSON: "unknown", ID: "string" },
        skipTypename: true,
      },
    },
  },
};

export default config;

// Preloaded (`node --import`) into a CLI subprocess so that `repro` itself runs against a mocked
// EC2 API: aws-sdk-client-mock replaces EC2Client's send for the whole process, and the CLI's lazy
// import of @aws-sdk/client-ec2 resolves to the same module. $REPRO_TEST_EC2_MOCK names a JSON
// file mapping an API action (`DescribeInstances`) to `{output}` or `{error: {name, message}}`;
// any other action fails loudly, so the CLI can never reach AWS from a test.
import { readFileSync } from 'node:fs';
import * as sdk from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';

type Canned = { output?: object; error?: { name: string; message: string } };

// Without the variable (e.g. when a test runner loads every file of this folder) it does nothing.
const file = process.env['REPRO_TEST_EC2_MOCK'];
if (file) installMock(file);

function installMock(path: string): void {
  const canned = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Canned>;
  const ec2 = mockClient(sdk.EC2Client);
  ec2.onAnyCommand().rejects(new Error('ec2-mock-preload: unexpected EC2 call'));
  for (const [action, answer] of Object.entries(canned)) {
    const command = (sdk as unknown as Record<string, unknown>)[`${action}Command`];
    if (typeof command !== 'function') throw new Error(`ec2-mock-preload: no ${action}Command`);
    const behaviour = ec2.on(command as typeof sdk.DescribeInstancesCommand);
    if (answer.error) {
      behaviour.rejects(
        new sdk.EC2ServiceException({
          name: answer.error.name,
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
          message: answer.error.message,
        }),
      );
    } else {
      behaviour.resolves(answer.output ?? {});
    }
  }
}

using Curation.Pipelines.Execution;

namespace Curation.Pipelines.Tests.Execution;

public sealed class FlowSettingTests
{
    [Fact]
    public async Task A_flow_sees_its_own_value_its_tasks_inherit_it_and_other_flows_keep_the_default()
    {
        var setting = new FlowSetting<int>(7);
        using var inside = new Barrier(2);

        async Task<(int Own, int Child, int After)> ChooseAsync(int value)
        {
            await Task.Yield();
            int own, child;
            using (setting.Use(value))
            {
                inside.SignalAndWait(TimeSpan.FromSeconds(30)); // both flows hold their choice at the same moment
                own = setting.Value;
                child = await Task.Run(() => setting.Value); // a task the flow starts (as a job's tasks are)
            }
            return (own, child, setting.Value);
        }
        async Task<int> ObserveAsync()
        {
            await Task.Yield();
            inside.SignalAndWait(TimeSpan.FromSeconds(30));
            return setting.Value;
        }

        var chooser = Task.Run(() => ChooseAsync(2));
        var observer = Task.Run(ObserveAsync);
        Assert.Equal((2, 2, 7), await chooser);
        Assert.Equal(7, await observer);
        Assert.Equal(7, setting.Value);
    }

    [Fact]
    public void Nested_choices_restore_the_outer_one()
    {
        var setting = new FlowSetting<bool>(true);
        using (setting.Use(false))
        {
            using (setting.Use(true)) Assert.True(setting.Value);
            Assert.False(setting.Value);
        }
        Assert.True(setting.Value);
    }
}

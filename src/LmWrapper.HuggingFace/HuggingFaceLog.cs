using Microsoft.Extensions.Logging;

namespace LmWrapper.HuggingFace;

/// <summary>Local models' log messages, source-generated with stable event ids in 4000–4999. No token is ever logged.</summary>
internal static partial class HuggingFaceLog
{
    [LoggerMessage(EventId = 4001, EventName = "HuggingFaceModelLoaded", Level = LogLevel.Information,
        Message = "Loaded {Model}: {ModelType}, {Layers} layers, hidden size {HiddenSize}, weights {Quantization}.")]
    public static partial void ModelLoaded(ILogger logger, string model, string modelType, int layers, int hiddenSize, WeightQuantization quantization);
}
